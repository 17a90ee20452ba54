CREATE TABLE "risk_decisions" (
	"id" text PRIMARY KEY NOT NULL,
	"action" text NOT NULL,
	"subject" text,
	"ip" text NOT NULL,
	"device" text,
	"decision" text NOT NULL,
	"reasons" jsonb NOT NULL,
	"shadow_matches" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"features" jsonb NOT NULL,
	"score" double precision,
	"rule_versions" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"label" text,
	"labelled_by" text,
	"labelled_at" timestamp with time zone,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "risk_decisions_decision" CHECK ("risk_decisions"."decision" in ('allow', 'block', 'review', 'challenge')),
	CONSTRAINT "risk_decisions_label" CHECK ("risk_decisions"."label" is null or "risk_decisions"."label" in ('fraud', 'legit'))
);
--> statement-breakpoint
CREATE TABLE "risk_device_links" (
	"device_id" text NOT NULL,
	"subject_type" text NOT NULL,
	"subject_id" text NOT NULL,
	"first_seen" timestamp with time zone NOT NULL,
	"last_seen" timestamp with time zone NOT NULL,
	"hits" bigint DEFAULT 1 NOT NULL,
	CONSTRAINT "risk_device_links_device_id_subject_type_subject_id_pk" PRIMARY KEY("device_id","subject_type","subject_id"),
	CONSTRAINT "risk_device_links_subject_type" CHECK ("risk_device_links"."subject_type" in ('account', 'phone_hash', 'ip'))
);
--> statement-breakpoint
CREATE TABLE "risk_devices" (
	"device_id" text PRIMARY KEY NOT NULL,
	"first_seen" timestamp with time zone NOT NULL,
	"last_seen" timestamp with time zone NOT NULL,
	"signals" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "risk_list_entries" (
	"id" text PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"value" text NOT NULL,
	"reason" text DEFAULT '' NOT NULL,
	"expires_at" timestamp with time zone,
	"created_by" text,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "risk_list_entries_type" CHECK ("risk_list_entries"."type" in ('ip', 'cidr', 'device', 'phone_hash', 'openid', 'telegram_id', 'account'))
);
--> statement-breakpoint
CREATE TABLE "risk_rule_versions" (
	"rule_id" text NOT NULL,
	"version" integer NOT NULL,
	"name" text NOT NULL,
	"description" text NOT NULL,
	"action" text NOT NULL,
	"mode" text NOT NULL,
	"condition" jsonb NOT NULL,
	"applies_to" text[] NOT NULL,
	"enabled" boolean NOT NULL,
	"created_by" text,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "risk_rule_versions_rule_id_version_pk" PRIMARY KEY("rule_id","version")
);
--> statement-breakpoint
CREATE TABLE "risk_rules" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"action" text NOT NULL,
	"mode" text DEFAULT 'enforce' NOT NULL,
	"condition" jsonb NOT NULL,
	"applies_to" text[] NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"template" text,
	"updated_by" text,
	"updated_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "risk_rules_action" CHECK ("risk_rules"."action" in ('allow', 'block', 'review', 'challenge')),
	CONSTRAINT "risk_rules_mode" CHECK ("risk_rules"."mode" in ('enforce', 'shadow')),
	CONSTRAINT "risk_rules_version" CHECK ("risk_rules"."version" >= 1)
);
--> statement-breakpoint
ALTER TABLE "risk_rule_versions" ADD CONSTRAINT "risk_rule_versions_rule_id_risk_rules_id_fk" FOREIGN KEY ("rule_id") REFERENCES "public"."risk_rules"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "risk_decisions_decision_idx" ON "risk_decisions" USING btree ("decision");--> statement-breakpoint
CREATE INDEX "risk_decisions_subject_idx" ON "risk_decisions" USING btree ("subject");--> statement-breakpoint
CREATE INDEX "risk_device_links_subject_idx" ON "risk_device_links" USING btree ("subject_type","subject_id");--> statement-breakpoint
CREATE INDEX "risk_list_entries_type_value_idx" ON "risk_list_entries" USING btree ("type","value");--> statement-breakpoint
CREATE UNIQUE INDEX "risk_rules_template_uniq" ON "risk_rules" USING btree ("template");