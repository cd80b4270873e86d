export * from './ca';
export * from './certificate';
export * from './keys';
export * from './store';
