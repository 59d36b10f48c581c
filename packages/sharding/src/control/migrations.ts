import { Migration } from '@mikro-orm/migrations';

export class Migration20261123000000ShardDirectory extends Migration {
  override name = 'Migration20261123000000ShardDirectory';

  override up(): void {
    this.addSql(`create table "shard" (
      "id" integer not null primary key,
      "database_name" text not null,
      "accepts_new_tenants" boolean not null default true,
      "registered_at" timestamptz not null default now(),
      constraint "shard_database_name_unique" unique ("database_name")
    );`);
    this.addSql(`create table "tenant_placement" (
      "tenant_id" uuid not null primary key,
      "shard_id" integer not null,
      "placed_at" timestamptz not null default now(),
      constraint "tenant_placement_shard_id_foreign" foreign key ("shard_id") references "shard" ("id")
    );`);
    this.addSql(`create index "tenant_placement_shard_id_index" on "tenant_placement" ("shard_id");`);
  }

  override down(): void {
    this.addSql('drop table if exists "tenant_placement";');
    this.addSql('drop table if exists "shard";');
  }
}

export class Migration20261123000200PlacementPartner extends Migration {
  override name = 'Migration20261123000200PlacementPartner';

  override up(): void {
    this.addSql('alter table "tenant_placement" add column "partner_id" uuid null;');
  }

  override down(): void {
    this.addSql('alter table "tenant_placement" drop column "partner_id";');
  }
}

export class Migration20261129000000ShardLoadSample extends Migration {
  override name = 'Migration20261129000000ShardLoadSample';

  override up(): void {
    this.addSql(`create table "shard_load_sample" (
      "shard_id" integer not null primary key,
      "writes" bigint not null,
      "sampled_at" timestamptz not null
    );`);
  }

  override down(): void {
    this.addSql('drop table if exists "shard_load_sample";');
  }
}

export class Migration20261129000100ShardMove extends Migration {
  override name = 'Migration20261129000100ShardMove';

  override up(): void {
    this.addSql('alter table "tenant_placement" add column "epoch" integer not null default 0;');
    this.addSql(`create table "shard_move" (
      "id" uuid not null primary key,
      "tenant_id" uuid not null,
      "source_shard" integer not null,
      "target_shard" integer not null,
      "state" text not null,
      "progress" jsonb null,
      "copied_rows" bigint not null default 0,
      "total_rows" bigint not null default 0,
      "applied_changes" bigint not null default 0,
      "fence_ms" integer null,
      "cancel_requested" boolean not null default false,
      "error" text null,
      "created_at" timestamptz not null,
      "updated_at" timestamptz not null,
      "switched_at" timestamptz null
    );`);
    this.addSql('create index "shard_move_tenant_id_index" on "shard_move" ("tenant_id");');
  }

  override down(): void {
    this.addSql('drop table if exists "shard_move";');
    this.addSql('alter table "tenant_placement" drop column "epoch";');
  }
}

export const controlMigrations = [
  Migration20261123000000ShardDirectory,
  Migration20261123000200PlacementPartner,
  Migration20261129000000ShardLoadSample,
  Migration20261129000100ShardMove,
];
