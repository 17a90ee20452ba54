CREATE TABLE "wallet_reminders" (
	"id" text PRIMARY KEY NOT NULL,
	"code_id" text NOT NULL,
	"rule_days" integer NOT NULL,
	"customer_id" text NOT NULL,
	"channel" text NOT NULL,
	"status" text NOT NULL,
	"outbound_id" text,
	"error" text,
	"sent_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "wallet_reminders_code_rule_uq" ON "wallet_reminders" USING btree ("code_id","rule_days");--> statement-breakpoint
CREATE INDEX "wallet_reminders_customer_idx" ON "wallet_reminders" USING btree ("customer_id","id");