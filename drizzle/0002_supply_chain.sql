CREATE TABLE "code_events" (
	"id" text PRIMARY KEY NOT NULL,
	"code_id" text NOT NULL,
	"from_state" text NOT NULL,
	"to_state" text NOT NULL,
	"actor_type" text NOT NULL,
	"actor_id" text,
	"ref" text,
	"at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "code_exports" (
	"id" text PRIMARY KEY NOT NULL,
	"sku_id" text NOT NULL,
	"batch_id" text,
	"state" text NOT NULL,
	"max_codes" integer NOT NULL,
	"reason" text NOT NULL,
	"status" text NOT NULL,
	"requested_by" text NOT NULL,
	"approved_by" text,
	"rejected_reason" text,
	"created_at" timestamp with time zone NOT NULL,
	"decided_at" timestamp with time zone,
	"downloaded_at" timestamp with time zone,
	"exported_count" integer
);
--> statement-breakpoint
CREATE TABLE "vault_imports" (
	"id" text PRIMARY KEY NOT NULL,
	"sku_id" text NOT NULL,
	"batch_id" text,
	"source" text NOT NULL,
	"mode" text NOT NULL,
	"status" text NOT NULL,
	"total_rows" integer DEFAULT 0 NOT NULL,
	"accepted" integer DEFAULT 0 NOT NULL,
	"rejected" integer DEFAULT 0 NOT NULL,
	"rejections" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "stock_allocations" (
	"id" text PRIMARY KEY NOT NULL,
	"sku_id" text NOT NULL,
	"holder_type" text NOT NULL,
	"holder_id" text NOT NULL,
	"low_stock_threshold" integer DEFAULT 0 NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"released_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "alerts" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"subject_type" text NOT NULL,
	"subject_id" text NOT NULL,
	"severity" text NOT NULL,
	"message" text NOT NULL,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"opened_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"cleared_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "sku_suppliers" (
	"sku_id" text NOT NULL,
	"supplier_id" text NOT NULL,
	"external_sku" text NOT NULL,
	"priority" integer NOT NULL,
	CONSTRAINT "sku_suppliers_sku_id_supplier_id_pk" PRIMARY KEY("sku_id","supplier_id")
);
--> statement-breakpoint
CREATE TABLE "supplier_callbacks" (
	"id" text PRIMARY KEY NOT NULL,
	"supplier_id" text NOT NULL,
	"external_ref" text,
	"signature_valid" boolean NOT NULL,
	"outcome" text NOT NULL,
	"payload" jsonb NOT NULL,
	"received_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "supplier_orders" (
	"id" text PRIMARY KEY NOT NULL,
	"purchase_id" text NOT NULL,
	"supplier_id" text NOT NULL,
	"sku_id" text NOT NULL,
	"external_sku" text NOT NULL,
	"external_ref" text NOT NULL,
	"attempt" integer NOT NULL,
	"quantity" integer NOT NULL,
	"account" text,
	"status" text NOT NULL,
	"supplier_order_id" text,
	"cost_fen" integer,
	"error" text,
	"result" jsonb,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "supplier_orders_external_ref_unique" UNIQUE("external_ref")
);
--> statement-breakpoint
CREATE TABLE "supplier_products" (
	"id" text PRIMARY KEY NOT NULL,
	"supplier_id" text NOT NULL,
	"external_sku" text NOT NULL,
	"name" text NOT NULL,
	"cost_fen" integer NOT NULL,
	"stock" integer NOT NULL,
	"available" boolean DEFAULT true NOT NULL,
	"supplier_updated_at" text,
	"synced_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "suppliers" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"adapter" text NOT NULL,
	"base_url" text NOT NULL,
	"credentials_sealed" "bytea" NOT NULL,
	"credentials_key_id" text NOT NULL,
	"timeout_ms" integer DEFAULT 5000 NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"balance_fen" integer,
	"health" text DEFAULT 'unknown' NOT NULL,
	"consecutive_failures" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"last_checked_at" timestamp with time zone,
	"sync_cursor" text,
	"last_synced_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "skus" ADD COLUMN "agent_prices" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "skus" ADD COLUMN "regions" jsonb DEFAULT '["CN"]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "skus" ADD COLUMN "validity_days" integer;--> statement-breakpoint
ALTER TABLE "skus" ADD COLUMN "min_per_order" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "skus" ADD COLUMN "max_per_order" integer DEFAULT 10 NOT NULL;--> statement-breakpoint
ALTER TABLE "skus" ADD COLUMN "reusable" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "skus" ADD COLUMN "max_sales_per_code" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "skus" ADD COLUMN "low_stock_threshold" integer DEFAULT 10 NOT NULL;--> statement-breakpoint
ALTER TABLE "skus" ADD COLUMN "off_sale_reason" text;--> statement-breakpoint
ALTER TABLE "skus" ADD COLUMN "updated_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "code_batches" ADD COLUMN "origin" text DEFAULT 'imported' NOT NULL;--> statement-breakpoint
ALTER TABLE "code_batches" ADD COLUMN "code_count" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "codes" ADD COLUMN "allocation_id" text;--> statement-breakpoint
ALTER TABLE "codes" ADD COLUMN "expires_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "codes" ADD COLUMN "reserved_by" text;--> statement-breakpoint
ALTER TABLE "codes" ADD COLUMN "reserved_until" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "codes" ADD COLUMN "order_id" text;--> statement-breakpoint
ALTER TABLE "codes" ADD COLUMN "sale_count" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "codes" ADD COLUMN "updated_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "code_events_code_idx" ON "code_events" USING btree ("code_id");--> statement-breakpoint
CREATE INDEX "stock_allocations_holder_idx" ON "stock_allocations" USING btree ("sku_id","holder_type","holder_id");--> statement-breakpoint
CREATE UNIQUE INDEX "alerts_open_uq" ON "alerts" USING btree ("kind","subject_id") WHERE cleared_at is null;--> statement-breakpoint
CREATE INDEX "alerts_opened_idx" ON "alerts" USING btree ("opened_at");--> statement-breakpoint
CREATE INDEX "supplier_orders_purchase_idx" ON "supplier_orders" USING btree ("purchase_id");--> statement-breakpoint
CREATE INDEX "supplier_orders_status_idx" ON "supplier_orders" USING btree ("status");--> statement-breakpoint
CREATE UNIQUE INDEX "supplier_products_uq" ON "supplier_products" USING btree ("supplier_id","external_sku");--> statement-breakpoint
CREATE UNIQUE INDEX "code_batches_purchase_ref_uq" ON "code_batches" USING btree ("imported_by") WHERE origin = 'purchased';--> statement-breakpoint
CREATE INDEX "codes_batch_idx" ON "codes" USING btree ("batch_id","state");--> statement-breakpoint
CREATE INDEX "codes_claim_free_idx" ON "codes" USING btree ("sku_id","expires_at") WHERE state = 'available' and allocation_id is null;--> statement-breakpoint
CREATE INDEX "codes_claim_allocated_idx" ON "codes" USING btree ("allocation_id","expires_at") WHERE state = 'available' and allocation_id is not null;--> statement-breakpoint
CREATE INDEX "codes_reserved_until_idx" ON "codes" USING btree ("reserved_until") WHERE state = 'reserved';--> statement-breakpoint
CREATE INDEX "codes_expiry_idx" ON "codes" USING btree ("expires_at") WHERE state in ('available', 'reserved');--> statement-breakpoint
CREATE INDEX "codes_order_idx" ON "codes" USING btree ("order_id") WHERE order_id is not null;