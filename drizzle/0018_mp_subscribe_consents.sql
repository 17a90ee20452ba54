CREATE TABLE "mp_subscribe_consents" (
	"id" text PRIMARY KEY NOT NULL,
	"customer_id" text NOT NULL,
	"template_id" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone,
	"used_for" text
);
--> statement-breakpoint
CREATE INDEX "mp_subscribe_consents_unused_idx" ON "mp_subscribe_consents" USING btree ("customer_id","template_id","used_at");