CREATE TABLE "agent_sales_monthly" (
	"month" date NOT NULL,
	"agent_id" text NOT NULL,
	"orders" integer NOT NULL,
	"units" integer NOT NULL,
	"gmv_fen" bigint NOT NULL,
	"cost_fen" bigint NOT NULL,
	"refunds_fen" bigint NOT NULL,
	CONSTRAINT "agent_sales_monthly_month_agent_id_pk" PRIMARY KEY("month","agent_id")
);
--> statement-breakpoint
CREATE TABLE "analytics_cohorts" (
	"kind" text NOT NULL,
	"cohort" date NOT NULL,
	"period" date NOT NULL,
	"customers" integer NOT NULL,
	CONSTRAINT "analytics_cohorts_kind_cohort_period_pk" PRIMARY KEY("kind","cohort","period")
);
--> statement-breakpoint
CREATE TABLE "sales_days" (
	"day" date PRIMARY KEY NOT NULL,
	"orders" integer NOT NULL,
	"units" integer NOT NULL,
	"gmv_fen" bigint NOT NULL,
	"cost_fen" bigint NOT NULL,
	"refunds_fen" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sales_monthly" (
	"month" date NOT NULL,
	"sku_id" text NOT NULL,
	"channel" text NOT NULL,
	"supplier_id" text NOT NULL,
	"orders" integer NOT NULL,
	"units" integer NOT NULL,
	"gmv_fen" bigint NOT NULL,
	"cost_fen" bigint NOT NULL,
	"refunds_fen" bigint NOT NULL,
	CONSTRAINT "sales_monthly_month_sku_id_channel_supplier_id_pk" PRIMARY KEY("month","sku_id","channel","supplier_id")
);
