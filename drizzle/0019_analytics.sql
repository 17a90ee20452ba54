CREATE TABLE "agent_sales_daily" (
	"day" date NOT NULL,
	"agent_id" text NOT NULL,
	"orders" integer NOT NULL,
	"units" integer NOT NULL,
	"gmv_fen" bigint NOT NULL,
	"cost_fen" bigint NOT NULL,
	"refunds_fen" bigint NOT NULL,
	CONSTRAINT "agent_sales_daily_day_agent_id_pk" PRIMARY KEY("day","agent_id")
);
--> statement-breakpoint
CREATE TABLE "analytics_buyer_first" (
	"buyer_key" text PRIMARY KEY NOT NULL,
	"buyer_type" text NOT NULL,
	"first_day" date NOT NULL
);
--> statement-breakpoint
CREATE TABLE "analytics_buyer_months" (
	"buyer_key" text NOT NULL,
	"month" date NOT NULL,
	CONSTRAINT "analytics_buyer_months_buyer_key_month_pk" PRIMARY KEY("buyer_key","month")
);
--> statement-breakpoint
CREATE TABLE "analytics_buyer_weeks" (
	"buyer_key" text NOT NULL,
	"week" date NOT NULL,
	CONSTRAINT "analytics_buyer_weeks_buyer_key_week_pk" PRIMARY KEY("buyer_key","week")
);
--> statement-breakpoint
CREATE TABLE "analytics_order_changes" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"order_id" text NOT NULL,
	"old_status" text,
	"new_status" text NOT NULL,
	"refunded_delta_fen" integer DEFAULT 0 NOT NULL,
	"changed_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "analytics_order_facts" (
	"order_id" text PRIMARY KEY NOT NULL,
	"day" date NOT NULL,
	"sku_id" text NOT NULL,
	"agent_id" text NOT NULL,
	"channel" text NOT NULL,
	"supplier_id" text NOT NULL,
	"units" integer NOT NULL,
	"gmv_fen" integer NOT NULL,
	"unit_cost_fen" integer NOT NULL,
	"cost_fen" integer NOT NULL,
	"refunds_fen" integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sales_daily" (
	"day" date NOT NULL,
	"sku_id" text NOT NULL,
	"channel" text NOT NULL,
	"supplier_id" text NOT NULL,
	"orders" integer NOT NULL,
	"units" integer NOT NULL,
	"gmv_fen" bigint NOT NULL,
	"cost_fen" bigint NOT NULL,
	"refunds_fen" bigint NOT NULL,
	CONSTRAINT "sales_daily_day_sku_id_channel_supplier_id_pk" PRIMARY KEY("day","sku_id","channel","supplier_id")
);
--> statement-breakpoint
CREATE TABLE "sales_minutely" (
	"minute" timestamp with time zone PRIMARY KEY NOT NULL,
	"orders" integer NOT NULL,
	"gmv_fen" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "suppliers" ADD COLUMN "lead_time_days" integer DEFAULT 3 NOT NULL;--> statement-breakpoint
CREATE INDEX "analytics_buyer_first_day_idx" ON "analytics_buyer_first" USING btree ("first_day");--> statement-breakpoint
CREATE INDEX "analytics_buyer_months_month_idx" ON "analytics_buyer_months" USING btree ("month");--> statement-breakpoint
CREATE INDEX "analytics_buyer_weeks_week_idx" ON "analytics_buyer_weeks" USING btree ("week");--> statement-breakpoint
CREATE INDEX "sales_daily_sku_day_idx" ON "sales_daily" USING btree ("sku_id","day");--> statement-breakpoint
-- Analytics: every committed change of an order's status or refunds is queued in its own transaction (read model, see src/modules/analytics/schema.ts).
CREATE FUNCTION analytics_queue_order_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO analytics_order_changes (order_id, old_status, new_status, refunded_delta_fen, changed_at) VALUES (NEW.id, NULL, NEW.status, NEW.refunded_fen, now());
  ELSE
    INSERT INTO analytics_order_changes (order_id, old_status, new_status, refunded_delta_fen, changed_at) VALUES (NEW.id, OLD.status, NEW.status, NEW.refunded_fen - OLD.refunded_fen, now());
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER analytics_order_inserted AFTER INSERT ON orders FOR EACH ROW WHEN (NEW.status NOT IN ('pending_payment', 'held_for_review')) EXECUTE FUNCTION analytics_queue_order_change();
--> statement-breakpoint
CREATE TRIGGER analytics_order_updated AFTER UPDATE OF status, refunded_fen ON orders FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.refunded_fen IS DISTINCT FROM NEW.refunded_fen) EXECUTE FUNCTION analytics_queue_order_change();
