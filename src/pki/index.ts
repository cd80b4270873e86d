export * from './keys';
export * from './certificate';
export * from './ca';
export * from './store';
