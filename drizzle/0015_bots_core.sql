CREATE TABLE "bot_inbound" (
	"channel" text NOT NULL,
	"message_id" text NOT NULL,
	"received_at" timestamp with time zone NOT NULL,
	CONSTRAINT "bot_inbound_channel_message_id_pk" PRIMARY KEY("channel","message_id")
);
--> statement-breakpoint
CREATE TABLE "bot_link_codes" (
	"code_hash" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"subject_id" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone,
	"used_by" text,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "bot_sessions" (
	"user_key" text PRIMARY KEY NOT NULL,
	"data" jsonb NOT NULL,
	"version" integer DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "bot_staff_links" (
	"user_key" text PRIMARY KEY NOT NULL,
	"staff_id" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "bot_inbound_marks" (
	"channel" text NOT NULL,
	"chat_id" text NOT NULL,
	"last_inbound_at" timestamp with time zone NOT NULL,
	CONSTRAINT "bot_inbound_marks_channel_chat_id_pk" PRIMARY KEY("channel","chat_id")
);
--> statement-breakpoint
CREATE TABLE "bot_outbound_messages" (
	"id" text PRIMARY KEY NOT NULL,
	"channel" text NOT NULL,
	"chat_id" text NOT NULL,
	"chat_kind" text NOT NULL,
	"chat_user" jsonb,
	"replies" jsonb NOT NULL,
	"weight" integer DEFAULT 1 NOT NULL,
	"reason" text NOT NULL,
	"dedupe_key" text NOT NULL,
	"status" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone NOT NULL,
	"claimed_at" timestamp with time zone,
	"last_error" text,
	"created_at" timestamp with time zone NOT NULL,
	"sent_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "bot_outbound_pauses" (
	"channel" text NOT NULL,
	"scope" text NOT NULL,
	"until" timestamp with time zone NOT NULL,
	CONSTRAINT "bot_outbound_pauses_channel_scope_pk" PRIMARY KEY("channel","scope")
);
--> statement-breakpoint
CREATE INDEX "bot_inbound_received_idx" ON "bot_inbound" USING btree ("received_at");--> statement-breakpoint
CREATE UNIQUE INDEX "bot_outbound_dedupe_uq" ON "bot_outbound_messages" USING btree ("dedupe_key");--> statement-breakpoint
CREATE INDEX "bot_outbound_due_idx" ON "bot_outbound_messages" USING btree ("channel","status","next_attempt_at");--> statement-breakpoint
CREATE INDEX "bot_outbound_recent_idx" ON "bot_outbound_messages" USING btree ("channel","claimed_at");--> statement-breakpoint
CREATE INDEX "bot_outbound_chat_idx" ON "bot_outbound_messages" USING btree ("channel","chat_id","claimed_at");