CREATE TABLE "level_price_rules" (
	"id" text PRIMARY KEY NOT NULL,
	"level" integer NOT NULL,
	"category_id" text,
	"markup_bps" integer DEFAULT 0 NOT NULL,
	"markup_fen" integer DEFAULT 0 NOT NULL,
	"updated_by" text NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "agent_applications" (
	"id" text PRIMARY KEY NOT NULL,
	"upline_id" text NOT NULL,
	"name" text NOT NULL,
	"phone_sealed" "bytea" NOT NULL,
	"phone_key_id" text NOT NULL,
	"phone_hash" text NOT NULL,
	"phone_masked" text NOT NULL,
	"identity_provider" text,
	"identity_external_id" text,
	"ip" text,
	"device_id" text,
	"status" text DEFAULT 'pending' NOT NULL,
	"decided_by" text,
	"decided_at" timestamp with time zone,
	"reason" text,
	"agent_id" text,
	"flags" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "agent_product_scopes" (
	"agent_id" text NOT NULL,
	"scope_type" text NOT NULL,
	"ref_id" text NOT NULL,
	CONSTRAINT "agent_product_scopes_agent_id_scope_type_ref_id_pk" PRIMARY KEY("agent_id","scope_type","ref_id")
);
--> statement-breakpoint
CREATE TABLE "referral_bindings" (
	"id" text PRIMARY KEY NOT NULL,
	"customer_id" text NOT NULL,
	"agent_id" text NOT NULL,
	"source" text NOT NULL,
	"bound_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone,
	CONSTRAINT "referral_bindings_customer_id_unique" UNIQUE("customer_id")
);
--> statement-breakpoint
ALTER TABLE "withdrawals" DROP CONSTRAINT "withdrawals_status";--> statement-breakpoint
ALTER TABLE "withdrawals" ADD COLUMN "first_approved_by" text;--> statement-breakpoint
ALTER TABLE "withdrawals" ADD COLUMN "first_approved_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "agent_applications" ADD CONSTRAINT "agent_applications_upline_id_agents_id_fk" FOREIGN KEY ("upline_id") REFERENCES "public"."agents"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "agent_applications" ADD CONSTRAINT "agent_applications_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "agent_product_scopes" ADD CONSTRAINT "agent_product_scopes_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "referral_bindings" ADD CONSTRAINT "referral_bindings_customer_id_customers_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "referral_bindings" ADD CONSTRAINT "referral_bindings_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "level_price_rules_level_category_idx" ON "level_price_rules" USING btree ("level",coalesce("category_id", ''));--> statement-breakpoint
CREATE INDEX "agent_applications_upline_idx" ON "agent_applications" USING btree ("upline_id","status");--> statement-breakpoint
CREATE INDEX "agent_applications_agent_idx" ON "agent_applications" USING btree ("agent_id");--> statement-breakpoint
CREATE UNIQUE INDEX "agent_applications_pending_uq" ON "agent_applications" USING btree ("upline_id","phone_hash") WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX "referral_bindings_agent_idx" ON "referral_bindings" USING btree ("agent_id");--> statement-breakpoint
CREATE INDEX "commissions_clawback_idx" ON "commissions" USING btree ("agent_id","created_at") WHERE "commissions"."clawback_due_fen" > 0;--> statement-breakpoint
CREATE INDEX "withdrawals_agent_created_idx" ON "withdrawals" USING btree ("agent_id","created_at");--> statement-breakpoint
ALTER TABLE "commissions" ADD CONSTRAINT "commissions_reversal_amounts" CHECK ("commissions"."reversed_fen" >= 0 and "commissions"."clawback_due_fen" >= 0 and "commissions"."reversed_fen" + "commissions"."clawback_due_fen" <= "commissions"."amount_fen");--> statement-breakpoint
ALTER TABLE "withdrawals" ADD CONSTRAINT "withdrawals_status" CHECK ("withdrawals"."status" in ('requested', 'awaiting_second_approval', 'approved', 'paid', 'rejected'));