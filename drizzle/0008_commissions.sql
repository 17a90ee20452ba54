CREATE TABLE "commission_rule_sets" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"scope_type" text NOT NULL,
	"scope_value" text,
	"created_by" text,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "commission_rule_versions" (
	"id" text PRIMARY KEY NOT NULL,
	"rule_set_id" text NOT NULL,
	"version" integer NOT NULL,
	"max_levels" integer NOT NULL,
	"levels" jsonb NOT NULL,
	"created_by" text,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "commissions" (
	"id" text PRIMARY KEY NOT NULL,
	"order_id" text NOT NULL,
	"agent_id" text NOT NULL,
	"level" integer NOT NULL,
	"amount_fen" integer NOT NULL,
	"rule_version_id" text NOT NULL,
	"capped" boolean DEFAULT false NOT NULL,
	"status" text NOT NULL,
	"order_refunded_fen" integer DEFAULT 0 NOT NULL,
	"reversed_fen" integer DEFAULT 0 NOT NULL,
	"clawback_due_fen" integer DEFAULT 0 NOT NULL,
	"available_at" timestamp with time zone NOT NULL,
	"settled_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "commission_rule_versions" ADD CONSTRAINT "commission_rule_versions_rule_set_id_commission_rule_sets_id_fk" FOREIGN KEY ("rule_set_id") REFERENCES "public"."commission_rule_sets"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "commissions" ADD CONSTRAINT "commissions_rule_version_id_commission_rule_versions_id_fk" FOREIGN KEY ("rule_version_id") REFERENCES "public"."commission_rule_versions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "commission_rule_versions_set_version_idx" ON "commission_rule_versions" USING btree ("rule_set_id","version");--> statement-breakpoint
CREATE UNIQUE INDEX "commissions_order_level_idx" ON "commissions" USING btree ("order_id","level");--> statement-breakpoint
CREATE INDEX "commissions_agent_idx" ON "commissions" USING btree ("agent_id","status");--> statement-breakpoint
CREATE INDEX "commissions_due_idx" ON "commissions" USING btree ("status","available_at");--> statement-breakpoint
-- Rule versions are append-only: a commission names the version it was computed with, so a version never changes.
CREATE OR REPLACE FUNCTION commission_rule_versions_refuse_change() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'commission_rule_versions is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER commission_rule_versions_append_only BEFORE UPDATE OR DELETE ON commission_rule_versions
  FOR EACH ROW EXECUTE FUNCTION commission_rule_versions_refuse_change();
