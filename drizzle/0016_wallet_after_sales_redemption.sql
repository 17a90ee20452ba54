CREATE TABLE "merchant_products" (
	"merchant_id" text NOT NULL,
	"product_id" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "merchant_products_merchant_id_product_id_pk" PRIMARY KEY("merchant_id","product_id")
);
--> statement-breakpoint
CREATE TABLE "merchants" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "redemption_qr_tokens" (
	"id" text PRIMARY KEY NOT NULL,
	"code_id" text NOT NULL,
	"customer_id" text NOT NULL,
	"issued_for" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "redemptions" (
	"id" text PRIMARY KEY NOT NULL,
	"code_id" text NOT NULL,
	"sku_id" text NOT NULL,
	"product_id" text NOT NULL,
	"merchant_id" text NOT NULL,
	"store_id" text NOT NULL,
	"staff_id" text NOT NULL,
	"face_value_fen" integer NOT NULL,
	"via" text NOT NULL,
	"qr_token_id" text,
	"redeemed_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "store_staff" (
	"id" text PRIMARY KEY NOT NULL,
	"store_id" text NOT NULL,
	"merchant_id" text NOT NULL,
	"name" text NOT NULL,
	"api_key_id" text NOT NULL,
	"disabled" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "stores" (
	"id" text PRIMARY KEY NOT NULL,
	"merchant_id" text NOT NULL,
	"name" text NOT NULL,
	"address" text,
	"status" text DEFAULT 'active' NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "mp_sessions" (
	"id" text PRIMARY KEY NOT NULL,
	"token_hash" text NOT NULL,
	"customer_id" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "mp_sessions_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
CREATE TABLE "wallet_gifts" (
	"id" text PRIMARY KEY NOT NULL,
	"code_id" text NOT NULL,
	"giver_id" text NOT NULL,
	"token_hash" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"message" text,
	"expires_at" timestamp with time zone NOT NULL,
	"claimed_by" text,
	"claimed_at" timestamp with time zone,
	"cancelled_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "wallet_holdings" (
	"code_id" text PRIMARY KEY NOT NULL,
	"customer_id" text NOT NULL,
	"gift_id" text NOT NULL,
	"acquired_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "after_sales_events" (
	"id" text PRIMARY KEY NOT NULL,
	"ticket_id" text NOT NULL,
	"from_status" text,
	"to_status" text NOT NULL,
	"actor_type" text NOT NULL,
	"actor_id" text,
	"note" text,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "after_sales_ticket_codes" (
	"ticket_id" text NOT NULL,
	"code_id" text NOT NULL,
	"active" boolean DEFAULT true NOT NULL,
	CONSTRAINT "after_sales_ticket_codes_ticket_id_code_id_pk" PRIMARY KEY("ticket_id","code_id")
);
--> statement-breakpoint
CREATE TABLE "after_sales_tickets" (
	"id" text PRIMARY KEY NOT NULL,
	"customer_id" text NOT NULL,
	"order_id" text NOT NULL,
	"api_key_owner" text,
	"description" text NOT NULL,
	"evidence_urls" jsonb NOT NULL,
	"status" text NOT NULL,
	"pending_decision" text,
	"pending_since" timestamp with time zone,
	"decision" text,
	"decision_note" text,
	"supplier_fault" boolean DEFAULT false NOT NULL,
	"replacement_order_id" text,
	"refunded_fen" integer,
	"chargeback_fen" integer,
	"decided_by" text,
	"decided_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "skus" ADD COLUMN "redeem_url" text;--> statement-breakpoint
ALTER TABLE "merchant_products" ADD CONSTRAINT "merchant_products_merchant_id_merchants_id_fk" FOREIGN KEY ("merchant_id") REFERENCES "public"."merchants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "store_staff" ADD CONSTRAINT "store_staff_store_id_stores_id_fk" FOREIGN KEY ("store_id") REFERENCES "public"."stores"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "stores" ADD CONSTRAINT "stores_merchant_id_merchants_id_fk" FOREIGN KEY ("merchant_id") REFERENCES "public"."merchants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "redemptions_code_uq" ON "redemptions" USING btree ("code_id");--> statement-breakpoint
CREATE INDEX "redemptions_store_at_idx" ON "redemptions" USING btree ("store_id","redeemed_at");--> statement-breakpoint
CREATE INDEX "store_staff_store_idx" ON "store_staff" USING btree ("store_id");--> statement-breakpoint
CREATE INDEX "stores_merchant_idx" ON "stores" USING btree ("merchant_id");--> statement-breakpoint
CREATE INDEX "mp_sessions_customer_idx" ON "mp_sessions" USING btree ("customer_id");--> statement-breakpoint
CREATE INDEX "mp_sessions_expires_idx" ON "mp_sessions" USING btree ("expires_at");--> statement-breakpoint
CREATE UNIQUE INDEX "wallet_gifts_token_uq" ON "wallet_gifts" USING btree ("token_hash");--> statement-breakpoint
CREATE UNIQUE INDEX "wallet_gifts_pending_code_uq" ON "wallet_gifts" USING btree ("code_id") WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX "wallet_gifts_giver_idx" ON "wallet_gifts" USING btree ("giver_id","id");--> statement-breakpoint
CREATE INDEX "wallet_gifts_pending_expiry_idx" ON "wallet_gifts" USING btree ("expires_at") WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX "wallet_holdings_customer_idx" ON "wallet_holdings" USING btree ("customer_id","code_id");--> statement-breakpoint
CREATE INDEX "after_sales_events_ticket_idx" ON "after_sales_events" USING btree ("ticket_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "after_sales_ticket_codes_one_open" ON "after_sales_ticket_codes" USING btree ("code_id") WHERE active;--> statement-breakpoint
CREATE INDEX "after_sales_tickets_customer_idx" ON "after_sales_tickets" USING btree ("customer_id","id");--> statement-breakpoint
CREATE INDEX "after_sales_tickets_status_idx" ON "after_sales_tickets" USING btree ("status","id");--> statement-breakpoint
CREATE INDEX "after_sales_tickets_order_idx" ON "after_sales_tickets" USING btree ("order_id");