CREATE TABLE "campaigns" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"budget_fen" bigint,
	"starts_at" timestamp with time zone NOT NULL,
	"ends_at" timestamp with time zone,
	"status" text DEFAULT 'active' NOT NULL,
	"created_by" text,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "campaigns_kind" CHECK ("campaigns"."kind" in ('coupon', 'cdk', 'flash_sale', 'group_buy', 'fission', 'recharge', 'points', 'referral', 'general')),
	CONSTRAINT "campaigns_status" CHECK ("campaigns"."status" in ('active', 'ended')),
	CONSTRAINT "campaigns_budget" CHECK ("campaigns"."budget_fen" is null or "campaigns"."budget_fen" > 0),
	CONSTRAINT "campaigns_window" CHECK ("campaigns"."ends_at" is null or "campaigns"."ends_at" > "campaigns"."starts_at")
);
--> statement-breakpoint
CREATE TABLE "coupon_templates" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"amount_off_fen" integer,
	"percent_off_bps" integer,
	"max_off_fen" integer,
	"min_amount_fen" integer DEFAULT 0 NOT NULL,
	"scope" text DEFAULT 'all' NOT NULL,
	"scope_ids" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"valid_from" timestamp with time zone,
	"valid_until" timestamp with time zone,
	"valid_days" integer,
	"per_user_limit" integer DEFAULT 1 NOT NULL,
	"total_limit" integer,
	"budget_fen" bigint,
	"issued_count" integer DEFAULT 0 NOT NULL,
	"used_count" integer DEFAULT 0 NOT NULL,
	"spent_fen" bigint DEFAULT 0 NOT NULL,
	"stackable_with_offers" boolean DEFAULT false NOT NULL,
	"claimable" boolean DEFAULT false NOT NULL,
	"new_user_pack" boolean DEFAULT false NOT NULL,
	"campaign_id" text,
	"status" text DEFAULT 'active' NOT NULL,
	"created_by" text,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "coupon_templates_kind" CHECK ("coupon_templates"."kind" in ('fixed', 'percent', 'threshold')),
	CONSTRAINT "coupon_templates_scope" CHECK ("coupon_templates"."scope" in ('all', 'products', 'categories', 'skus')),
	CONSTRAINT "coupon_templates_status" CHECK ("coupon_templates"."status" in ('active', 'paused')),
	CONSTRAINT "coupon_templates_issued" CHECK ("coupon_templates"."issued_count" >= 0 and ("coupon_templates"."total_limit" is null or "coupon_templates"."issued_count" <= "coupon_templates"."total_limit")),
	CONSTRAINT "coupon_templates_used" CHECK ("coupon_templates"."used_count" >= 0 and "coupon_templates"."used_count" <= "coupon_templates"."issued_count"),
	CONSTRAINT "coupon_templates_spent" CHECK ("coupon_templates"."spent_fen" >= 0 and ("coupon_templates"."budget_fen" is null or "coupon_templates"."spent_fen" <= "coupon_templates"."budget_fen"))
);
--> statement-breakpoint
CREATE TABLE "customer_coupons" (
	"id" text PRIMARY KEY NOT NULL,
	"template_id" text NOT NULL,
	"customer_id" text NOT NULL,
	"state" text DEFAULT 'available' NOT NULL,
	"valid_from" timestamp with time zone NOT NULL,
	"valid_until" timestamp with time zone NOT NULL,
	"source" text NOT NULL,
	"source_ref" text NOT NULL,
	"order_id" text,
	"discount_fen" integer,
	"used_at" timestamp with time zone,
	"campaign_id" text,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "customer_coupons_state" CHECK ("customer_coupons"."state" in ('available', 'used', 'expired', 'void')),
	CONSTRAINT "customer_coupons_used" CHECK (("customer_coupons"."state" = 'used') = ("customer_coupons"."order_id" is not null))
);
--> statement-breakpoint
CREATE TABLE "cdk_batches" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"campaign_id" text,
	"reward" jsonb NOT NULL,
	"mode" text NOT NULL,
	"max_redemptions" integer NOT NULL,
	"count" integer NOT NULL,
	"pattern" jsonb NOT NULL,
	"starts_at" timestamp with time zone,
	"expires_at" timestamp with time zone,
	"status" text NOT NULL,
	"data_key_sealed" "bytea" NOT NULL,
	"master_key_id" text NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"voided_at" timestamp with time zone,
	"voided_by" text,
	"void_reason" text
);
--> statement-breakpoint
CREATE TABLE "cdk_redemptions" (
	"id" text PRIMARY KEY NOT NULL,
	"cdk_id" text NOT NULL,
	"batch_id" text NOT NULL,
	"customer_id" text NOT NULL,
	"reward_kind" text NOT NULL,
	"reward_ref" text,
	"api_key_owner" text,
	"ip" text,
	"device_id" text,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "cdks" (
	"id" text PRIMARY KEY NOT NULL,
	"batch_id" text NOT NULL,
	"code_hmac" text NOT NULL,
	"sealed" "bytea" NOT NULL,
	"last4" text NOT NULL,
	"max_redemptions" integer NOT NULL,
	"redeemed_count" integer DEFAULT 0 NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"voided_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "referral_cdk_programs" (
	"id" text PRIMARY KEY NOT NULL,
	"rewards" jsonb NOT NULL,
	"per_referrer_daily_cap" integer NOT NULL,
	"per_referrer_total_cap" integer NOT NULL,
	"campaign_id" text,
	"enabled" boolean NOT NULL,
	"updated_by" text,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "referral_cdk_redemptions" (
	"id" text PRIMARY KEY NOT NULL,
	"referral_cdk_id" text NOT NULL,
	"referrer_type" text NOT NULL,
	"referrer_id" text NOT NULL,
	"customer_id" text NOT NULL,
	"bound_agent_id" text,
	"reward_status" text NOT NULL,
	"new_customer_reward" jsonb,
	"referrer_reward" jsonb,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "referral_cdks" (
	"id" text PRIMARY KEY NOT NULL,
	"code" text NOT NULL,
	"owner_type" text NOT NULL,
	"owner_id" text NOT NULL,
	"status" text NOT NULL,
	"rewarded_count" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "flash_sale_purchases" (
	"order_id" text PRIMARY KEY NOT NULL,
	"sale_id" text NOT NULL,
	"gate_user" text NOT NULL,
	"idempotency_key" text NOT NULL,
	"buyer_type" text NOT NULL,
	"buyer_id" text NOT NULL,
	"quantity" integer NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "flash_sales" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"sku_id" text NOT NULL,
	"campaign_id" text,
	"price_fen" integer NOT NULL,
	"units" integer NOT NULL,
	"per_user_limit" integer NOT NULL,
	"starts_at" timestamp with time zone NOT NULL,
	"ends_at" timestamp with time zone NOT NULL,
	"status" text DEFAULT 'scheduled' NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"cancelled_at" timestamp with time zone,
	"cancelled_by" text,
	"reconciled_at" timestamp with time zone,
	"gate_sold" integer,
	"orders_sold" integer,
	CONSTRAINT "flash_sales_window" CHECK ("flash_sales"."ends_at" > "flash_sales"."starts_at"),
	CONSTRAINT "flash_sales_terms" CHECK ("flash_sales"."units" > 0 and "flash_sales"."price_fen" > 0 and "flash_sales"."per_user_limit" > 0)
);
--> statement-breakpoint
CREATE TABLE "group_buy_campaigns" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"sku_id" text NOT NULL,
	"group_price_fen" integer NOT NULL,
	"group_size" integer NOT NULL,
	"duration_minutes" integer NOT NULL,
	"starts_at" timestamp with time zone NOT NULL,
	"ends_at" timestamp with time zone NOT NULL,
	"max_groups" integer,
	"per_customer_limit" integer DEFAULT 1 NOT NULL,
	"groups_opened" integer DEFAULT 0 NOT NULL,
	"campaign_id" text,
	"status" text DEFAULT 'active' NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"ended_at" timestamp with time zone,
	CONSTRAINT "group_buy_campaigns_terms" CHECK ("group_buy_campaigns"."group_price_fen" > 0 and "group_buy_campaigns"."group_size" between 2 and 100 and "group_buy_campaigns"."duration_minutes" > 0 and "group_buy_campaigns"."ends_at" > "group_buy_campaigns"."starts_at" and "group_buy_campaigns"."per_customer_limit" >= 1),
	CONSTRAINT "group_buy_campaigns_groups" CHECK ("group_buy_campaigns"."max_groups" is null or "group_buy_campaigns"."groups_opened" <= "group_buy_campaigns"."max_groups"),
	CONSTRAINT "group_buy_campaigns_status" CHECK ("group_buy_campaigns"."status" in ('active', 'ended'))
);
--> statement-breakpoint
CREATE TABLE "group_buy_groups" (
	"id" text PRIMARY KEY NOT NULL,
	"campaign_id" text NOT NULL,
	"leader_customer_id" text NOT NULL,
	"leader_agent_id" text,
	"group_size" integer NOT NULL,
	"seats_taken" integer NOT NULL,
	"status" text DEFAULT 'open' NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"completed_at" timestamp with time zone,
	"failed_at" timestamp with time zone,
	CONSTRAINT "group_buy_groups_seats" CHECK ("group_buy_groups"."seats_taken" >= 0 and "group_buy_groups"."seats_taken" <= "group_buy_groups"."group_size"),
	CONSTRAINT "group_buy_groups_status" CHECK ("group_buy_groups"."status" in ('open', 'completed', 'failed'))
);
--> statement-breakpoint
CREATE TABLE "group_buy_members" (
	"group_id" text NOT NULL,
	"order_id" text NOT NULL,
	"campaign_id" text NOT NULL,
	"customer_id" text NOT NULL,
	"is_leader" boolean DEFAULT false NOT NULL,
	"paid_by_balance" boolean NOT NULL,
	"status" text NOT NULL,
	"joined_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "group_buy_members_group_id_order_id_pk" PRIMARY KEY("group_id","order_id"),
	CONSTRAINT "group_buy_members_status" CHECK ("group_buy_members"."status" in ('pending_payment', 'paid', 'released', 'refund_due', 'refunded', 'cancelled'))
);
--> statement-breakpoint
CREATE TABLE "fission_campaigns" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"campaign_id" text,
	"reward_kind" text NOT NULL,
	"reward_amount" integer NOT NULL,
	"friends_needed" integer NOT NULL,
	"hours" integer NOT NULL,
	"consolation_points" integer DEFAULT 0 NOT NULL,
	"per_customer_limit" integer NOT NULL,
	"budget" integer,
	"committed" integer DEFAULT 0 NOT NULL,
	"starts_at" timestamp with time zone NOT NULL,
	"ends_at" timestamp with time zone,
	"status" text NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "fission_opens" (
	"id" text PRIMARY KEY NOT NULL,
	"packet_id" text NOT NULL,
	"fission_campaign_id" text NOT NULL,
	"friend_customer_id" text NOT NULL,
	"device_id" text,
	"ip" text,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "fission_packets" (
	"id" text PRIMARY KEY NOT NULL,
	"fission_campaign_id" text NOT NULL,
	"campaign_id" text,
	"customer_id" text NOT NULL,
	"sharer_device_id" text,
	"sharer_phone_hash" text,
	"reward_kind" text NOT NULL,
	"reward_amount" integer NOT NULL,
	"friends_needed" integer NOT NULL,
	"opened_count" integer DEFAULT 0 NOT NULL,
	"status" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"unlocked_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "points_entries" (
	"id" text PRIMARY KEY NOT NULL,
	"customer_id" text NOT NULL,
	"kind" text NOT NULL,
	"points" integer NOT NULL,
	"remaining" integer DEFAULT 0 NOT NULL,
	"expires_at" timestamp with time zone,
	"reason" text NOT NULL,
	"ref_type" text NOT NULL,
	"ref_id" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "points_entries_remaining_ok" CHECK ("points_entries"."remaining" >= 0 and "points_entries"."remaining" <= greatest("points_entries"."points", 0))
);
--> statement-breakpoint
CREATE TABLE "points_exchange_items" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"sku_id" text,
	"coupon_template_id" text,
	"points_price" integer NOT NULL,
	"stock_limit" integer,
	"exchanged_count" integer DEFAULT 0 NOT NULL,
	"status" text NOT NULL,
	"campaign_id" text,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "points_exchange_items_stock_ok" CHECK ("points_exchange_items"."stock_limit" is null or "points_exchange_items"."exchanged_count" <= "points_exchange_items"."stock_limit")
);
--> statement-breakpoint
CREATE TABLE "points_exchanges" (
	"id" text PRIMARY KEY NOT NULL,
	"item_id" text NOT NULL,
	"customer_id" text NOT NULL,
	"points" integer NOT NULL,
	"order_id" text,
	"coupon_id" text,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "points_order_awards" (
	"order_id" text PRIMARY KEY NOT NULL,
	"customer_id" text NOT NULL,
	"amount_fen" integer NOT NULL,
	"awarded" integer NOT NULL,
	"refunded_fen_seen" integer DEFAULT 0 NOT NULL,
	"reversed" integer DEFAULT 0 NOT NULL,
	"shortfall" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "points_wallets" (
	"customer_id" text PRIMARY KEY NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "recharge_bonus_rules" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"campaign_id" text,
	"tiers" jsonb NOT NULL,
	"starts_at" timestamp with time zone NOT NULL,
	"ends_at" timestamp with time zone,
	"per_customer_limit" integer,
	"status" text NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "recharges" (
	"id" text PRIMARY KEY NOT NULL,
	"customer_id" text NOT NULL,
	"amount_fen" integer NOT NULL,
	"bonus_fen" integer NOT NULL,
	"rule_id" text,
	"campaign_id" text,
	"source" text NOT NULL,
	"reference" text NOT NULL,
	"recorded_by" text NOT NULL,
	"ledger_transaction_id" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "ledger_transactions" ADD COLUMN "campaign_id" text;--> statement-breakpoint
ALTER TABLE "orders" ADD COLUMN "offer_kind" text;--> statement-breakpoint
ALTER TABLE "orders" ADD COLUMN "offer_id" text;--> statement-breakpoint
ALTER TABLE "orders" ADD COLUMN "campaign_id" text;--> statement-breakpoint
ALTER TABLE "orders" ADD COLUMN "promo_paid_fen" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "customer_coupons" ADD CONSTRAINT "customer_coupons_template_id_coupon_templates_id_fk" FOREIGN KEY ("template_id") REFERENCES "public"."coupon_templates"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "customer_coupons" ADD CONSTRAINT "customer_coupons_customer_id_customers_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "cdk_redemptions" ADD CONSTRAINT "cdk_redemptions_cdk_id_cdks_id_fk" FOREIGN KEY ("cdk_id") REFERENCES "public"."cdks"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "cdks" ADD CONSTRAINT "cdks_batch_id_cdk_batches_id_fk" FOREIGN KEY ("batch_id") REFERENCES "public"."cdk_batches"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "referral_cdk_redemptions" ADD CONSTRAINT "referral_cdk_redemptions_referral_cdk_id_referral_cdks_id_fk" FOREIGN KEY ("referral_cdk_id") REFERENCES "public"."referral_cdks"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "flash_sale_purchases" ADD CONSTRAINT "flash_sale_purchases_sale_id_flash_sales_id_fk" FOREIGN KEY ("sale_id") REFERENCES "public"."flash_sales"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "campaigns_kind_idx" ON "campaigns" USING btree ("kind");--> statement-breakpoint
CREATE INDEX "coupon_templates_new_user_idx" ON "coupon_templates" USING btree ("new_user_pack","status");--> statement-breakpoint
CREATE INDEX "coupon_templates_campaign_idx" ON "coupon_templates" USING btree ("campaign_id");--> statement-breakpoint
CREATE UNIQUE INDEX "customer_coupons_source_uq" ON "customer_coupons" USING btree ("template_id","source","source_ref","customer_id");--> statement-breakpoint
CREATE INDEX "customer_coupons_customer_idx" ON "customer_coupons" USING btree ("customer_id","state");--> statement-breakpoint
CREATE INDEX "customer_coupons_template_customer_idx" ON "customer_coupons" USING btree ("template_id","customer_id");--> statement-breakpoint
CREATE UNIQUE INDEX "customer_coupons_order_uq" ON "customer_coupons" USING btree ("order_id");--> statement-breakpoint
CREATE INDEX "cdk_batches_campaign_idx" ON "cdk_batches" USING btree ("campaign_id");--> statement-breakpoint
CREATE UNIQUE INDEX "cdk_redemptions_code_customer_uq" ON "cdk_redemptions" USING btree ("cdk_id","customer_id");--> statement-breakpoint
CREATE INDEX "cdk_redemptions_batch_idx" ON "cdk_redemptions" USING btree ("batch_id","id");--> statement-breakpoint
CREATE INDEX "cdk_redemptions_customer_idx" ON "cdk_redemptions" USING btree ("customer_id");--> statement-breakpoint
CREATE UNIQUE INDEX "cdks_code_hmac_uq" ON "cdks" USING btree ("code_hmac");--> statement-breakpoint
CREATE INDEX "cdks_batch_idx" ON "cdks" USING btree ("batch_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "referral_cdk_redemptions_customer_uq" ON "referral_cdk_redemptions" USING btree ("customer_id");--> statement-breakpoint
CREATE INDEX "referral_cdk_redemptions_rfc_idx" ON "referral_cdk_redemptions" USING btree ("referral_cdk_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "referral_cdks_code_uq" ON "referral_cdks" USING btree ("code");--> statement-breakpoint
CREATE UNIQUE INDEX "referral_cdks_owner_active_uq" ON "referral_cdks" USING btree ("owner_type","owner_id") WHERE status = 'active';--> statement-breakpoint
CREATE INDEX "flash_sale_purchases_sale_idx" ON "flash_sale_purchases" USING btree ("sale_id","buyer_type","buyer_id");--> statement-breakpoint
CREATE INDEX "flash_sales_window_idx" ON "flash_sales" USING btree ("ends_at","starts_at");--> statement-breakpoint
CREATE INDEX "group_buy_campaigns_status_idx" ON "group_buy_campaigns" USING btree ("status");--> statement-breakpoint
CREATE INDEX "group_buy_groups_campaign_idx" ON "group_buy_groups" USING btree ("campaign_id","id");--> statement-breakpoint
CREATE INDEX "group_buy_groups_status_expiry_idx" ON "group_buy_groups" USING btree ("status","expires_at");--> statement-breakpoint
CREATE UNIQUE INDEX "group_buy_members_order_idx" ON "group_buy_members" USING btree ("order_id");--> statement-breakpoint
CREATE UNIQUE INDEX "group_buy_members_one_seat_idx" ON "group_buy_members" USING btree ("group_id","customer_id") WHERE "group_buy_members"."status" in ('pending_payment', 'paid', 'released');--> statement-breakpoint
CREATE INDEX "group_buy_members_customer_idx" ON "group_buy_members" USING btree ("campaign_id","customer_id");--> statement-breakpoint
CREATE UNIQUE INDEX "fission_opens_friend_uq" ON "fission_opens" USING btree ("fission_campaign_id","friend_customer_id");--> statement-breakpoint
CREATE INDEX "fission_opens_packet_idx" ON "fission_opens" USING btree ("packet_id");--> statement-breakpoint
CREATE INDEX "fission_packets_customer_idx" ON "fission_packets" USING btree ("customer_id","fission_campaign_id");--> statement-breakpoint
CREATE INDEX "fission_packets_open_idx" ON "fission_packets" USING btree ("status","expires_at");--> statement-breakpoint
CREATE UNIQUE INDEX "points_entries_ref_uq" ON "points_entries" USING btree ("ref_type","ref_id","reason");--> statement-breakpoint
CREATE INDEX "points_entries_customer_idx" ON "points_entries" USING btree ("customer_id","id");--> statement-breakpoint
CREATE INDEX "points_entries_lots_idx" ON "points_entries" USING btree ("customer_id","expires_at") WHERE "points_entries"."remaining" > 0;--> statement-breakpoint
CREATE INDEX "points_exchanges_customer_idx" ON "points_exchanges" USING btree ("customer_id","id");--> statement-breakpoint
CREATE INDEX "recharges_customer_rule_idx" ON "recharges" USING btree ("customer_id","rule_id");--> statement-breakpoint
CREATE INDEX "ledger_transactions_campaign_idx" ON "ledger_transactions" USING btree ("campaign_id") WHERE campaign_id is not null;--> statement-breakpoint
CREATE INDEX "orders_offer_idx" ON "orders" USING btree ("offer_kind","offer_id");--> statement-breakpoint
CREATE INDEX "orders_campaign_idx" ON "orders" USING btree ("campaign_id");