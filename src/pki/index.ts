export * from './ca';
export * from './certificate';
export * from './keys';
export * from './rotation';
export * from './store';
