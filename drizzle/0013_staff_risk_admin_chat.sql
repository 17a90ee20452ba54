CREATE TABLE "alert_chat_messages" (
	"id" text PRIMARY KEY NOT NULL,
	"alert_id" text NOT NULL,
	"kind" text NOT NULL,
	"text" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone NOT NULL,
	"last_error" text,
	"created_at" timestamp with time zone NOT NULL,
	"sent_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "risk_reviews" (
	"id" text PRIMARY KEY NOT NULL,
	"subject_type" text NOT NULL,
	"subject_id" text NOT NULL,
	"decision_id" text NOT NULL,
	"status" text DEFAULT 'open' NOT NULL,
	"reason" text,
	"decided_by" text,
	"decided_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "risk_reviews_subject_type" CHECK ("risk_reviews"."subject_type" in ('order', 'withdrawal')),
	CONSTRAINT "risk_reviews_status" CHECK ("risk_reviews"."status" in ('open', 'approved', 'rejected'))
);
--> statement-breakpoint
CREATE TABLE "risk_staff_blocks" (
	"id" text PRIMARY KEY NOT NULL,
	"staff_id" text NOT NULL,
	"kind" text NOT NULL,
	"count" integer NOT NULL,
	"threshold" integer NOT NULL,
	"blocked_at" timestamp with time zone NOT NULL,
	"lifted_at" timestamp with time zone,
	"lifted_by" text,
	"lift_reason" text,
	CONSTRAINT "risk_staff_blocks_kind" CHECK ("risk_staff_blocks"."kind" in ('reveal', 'export'))
);
--> statement-breakpoint
ALTER TABLE "withdrawals" ADD COLUMN "risk_hold" boolean DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX "alert_chat_messages_due_idx" ON "alert_chat_messages" USING btree ("status","next_attempt_at");--> statement-breakpoint
CREATE UNIQUE INDEX "risk_reviews_subject_uniq" ON "risk_reviews" USING btree ("subject_type","subject_id");--> statement-breakpoint
CREATE INDEX "risk_reviews_status_idx" ON "risk_reviews" USING btree ("status","id");--> statement-breakpoint
CREATE UNIQUE INDEX "risk_staff_blocks_open_uq" ON "risk_staff_blocks" USING btree ("staff_id") WHERE lifted_at is null;