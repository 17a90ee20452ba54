// Marketing tables, one file per tool.
export * from './campaign-schema.js';
export * from './coupon-schema.js';
export * from './cdk-schema.js';
export * from './flash-sale-schema.js';
export * from './group-buy-schema.js';
export * from './points-schema.js';
