CREATE TABLE "analytics_forecasts" (
	"sku_id" text NOT NULL,
	"history_days" integer NOT NULL,
	"history_through" date NOT NULL,
	"method" text NOT NULL,
	"alpha" double precision NOT NULL,
	"beta" double precision NOT NULL,
	"gamma" double precision NOT NULL,
	"sse" double precision NOT NULL,
	"sigma" double precision NOT NULL,
	"forecast" jsonb NOT NULL,
	"history" jsonb NOT NULL,
	"fitted_at" timestamp with time zone NOT NULL,
	CONSTRAINT "analytics_forecasts_sku_id_history_days_pk" PRIMARY KEY("sku_id","history_days")
);
