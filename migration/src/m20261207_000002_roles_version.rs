//! An organisation's roles version: it moves when one of its roles changes (its permissions, or
//! its removal), and a membership's `mv` as tokens and `/auth/validate` carry it is the
//! membership's own version plus this one. A role held by 100,000 members changes with one
//! single-row `UPDATE` instead of moving 100,000 rows' `mv`, and the replicas make their cached
//! contexts again in place (`Invalidation::Role`).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organisations {
    Table,
    RolesVersion,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Organisations::Table)
                    .add_column(big_integer(Organisations::RolesVersion).default(0))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Organisations::Table)
                    .drop_column(Organisations::RolesVersion)
                    .to_owned(),
            )
            .await
    }
}
