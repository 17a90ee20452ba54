CREATE TABLE "withdrawals" (
	"id" text PRIMARY KEY NOT NULL,
	"agent_id" text NOT NULL,
	"amount_fen" bigint NOT NULL,
	"fee_fen" bigint NOT NULL,
	"method" text NOT NULL,
	"payout_sealed" "bytea" NOT NULL,
	"payout_key_id" text NOT NULL,
	"payout_masked" text NOT NULL,
	"status" text DEFAULT 'requested' NOT NULL,
	"requested_by" text,
	"approved_by" text,
	"approved_at" timestamp with time zone,
	"paid_by" text,
	"paid_at" timestamp with time zone,
	"payout_reference" text,
	"rejected_by" text,
	"rejected_at" timestamp with time zone,
	"reject_reason" text,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "withdrawals_amounts" CHECK ("withdrawals"."amount_fen" > 0 and "withdrawals"."fee_fen" >= 0 and "withdrawals"."fee_fen" < "withdrawals"."amount_fen"),
	CONSTRAINT "withdrawals_status" CHECK ("withdrawals"."status" in ('requested', 'approved', 'paid', 'rejected'))
);
--> statement-breakpoint
ALTER TABLE "withdrawals" ADD CONSTRAINT "withdrawals_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "withdrawals_agent_idx" ON "withdrawals" USING btree ("agent_id");--> statement-breakpoint
CREATE INDEX "withdrawals_status_idx" ON "withdrawals" USING btree ("status");