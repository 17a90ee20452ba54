CREATE TABLE "agent_resale_prices" (
	"agent_id" text NOT NULL,
	"sku_id" text NOT NULL,
	"price_fen" integer NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "agent_resale_prices_agent_id_sku_id_pk" PRIMARY KEY("agent_id","sku_id")
);
--> statement-breakpoint
ALTER TABLE "skus" ADD COLUMN "min_resale_price_fen" integer;--> statement-breakpoint
ALTER TABLE "agent_resale_prices" ADD CONSTRAINT "agent_resale_prices_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "agent_resale_prices" ADD CONSTRAINT "agent_resale_prices_sku_id_skus_id_fk" FOREIGN KEY ("sku_id") REFERENCES "public"."skus"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "agent_resale_prices_sku_idx" ON "agent_resale_prices" USING btree ("sku_id","price_fen");