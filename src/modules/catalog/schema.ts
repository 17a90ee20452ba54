import { boolean, index, integer, pgTable, text } from 'drizzle-orm/pg-core';
import { createdAt } from '../../db/columns.js';

export const products = pgTable('products', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  brand: text('brand').notNull(),
  category: text('category').notNull(),
  /** code: stocked card codes; topup: direct top-up through a supplier; cdk: platform-issued redemption code */
  kind: text('kind').notNull(),
  description: text('description').notNull().default(''),
  createdAt: createdAt(),
});

export const skus = pgTable(
  'skus',
  {
    id: text('id').primaryKey(),
    productId: text('product_id')
      .notNull()
      .references(() => products.id),
    name: text('name').notNull(),
    faceValueFen: integer('face_value_fen').notNull(),
    costFen: integer('cost_fen').notNull(),
    retailPriceFen: integer('retail_price_fen').notNull(),
    usageInstructions: text('usage_instructions').notNull().default(''),
    onSale: boolean('on_sale').notNull().default(true),
    createdAt: createdAt(),
  },
  (t) => [index('skus_product_idx').on(t.productId)],
);
