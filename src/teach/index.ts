export * from './teach.js';
