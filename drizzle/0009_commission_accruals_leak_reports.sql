CREATE TABLE "commission_accruals" (
	"order_id" text PRIMARY KEY NOT NULL,
	"total_fen" integer NOT NULL,
	"rule_version_id" text,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "leak_reports" (
	"id" text PRIMARY KEY NOT NULL,
	"code_id" text NOT NULL,
	"order_id" text,
	"seller_agent_id" text,
	"chain" text NOT NULL,
	"source" text,
	"reported_by" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "leak_reports_seller_idx" ON "leak_reports" USING btree ("seller_agent_id","created_at");--> statement-breakpoint
CREATE INDEX "leak_reports_code_idx" ON "leak_reports" USING btree ("code_id");--> statement-breakpoint
CREATE INDEX "orders_delivered_at_idx" ON "orders" USING btree ("delivered_at");