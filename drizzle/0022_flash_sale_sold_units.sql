ALTER TABLE "flash_sales" ADD COLUMN "sold_units" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Backfill (hand-added): existing sales count the units of their orders that are not cancelled, as the gate's reload
-- does; a sale that already sold past its units (possible before this counter) is held at its units.
UPDATE "flash_sales" f SET "sold_units" = least(f."units", coalesce((SELECT sum(o."quantity") FROM "orders" o WHERE o."offer_kind" = 'flash_sale' AND o."offer_id" = f."id" AND o."status" <> 'cancelled'), 0));--> statement-breakpoint
ALTER TABLE "flash_sales" ADD CONSTRAINT "flash_sales_sold_units" CHECK ("flash_sales"."sold_units" >= 0 and "flash_sales"."sold_units" <= "flash_sales"."units");
