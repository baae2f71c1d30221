//! Second factors: a user's authenticator-app secret (sealed, `crypto::seal`), their recovery
//! codes (SHA-256 digests), the challenges a password step leaves for the second step (digests of
//! single-use tokens), and an organisation's `require_mfa` policy.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Organisations {
    Table,
    RequireMfa,
}

#[derive(DeriveIden)]
enum MfaTotp {
    Table,
    UserId,
    Secret,
    ConfirmedAt,
    LastStep,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MfaRecoveryCodes {
    Table,
    Id,
    UserId,
    CodeHash,
    UsedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MfaChallenges {
    Table,
    Id,
    TokenHash,
    UserId,
    Purpose,
    Flow,
    Organization,
    Methods,
    ExpiresAt,
    UsedAt,
    CreatedAt,
}

fn user_fk(name: &str, table: impl IntoIden, column: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, column)
        .to(Users::Table, Users::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Organisations::Table)
                    .add_column(boolean(Organisations::RequireMfa).default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MfaTotp::Table)
                    .col(pk_uuid(MfaTotp::UserId))
                    .col(text(MfaTotp::Secret))
                    .col(timestamp_with_time_zone_null(MfaTotp::ConfirmedAt))
                    .col(big_integer_null(MfaTotp::LastStep))
                    .col(timestamp_with_time_zone(MfaTotp::CreatedAt))
                    .foreign_key(&mut user_fk("fk_mfa_totp_user", MfaTotp::Table, MfaTotp::UserId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MfaRecoveryCodes::Table)
                    .col(pk_uuid(MfaRecoveryCodes::Id))
                    .col(uuid(MfaRecoveryCodes::UserId))
                    .col(string(MfaRecoveryCodes::CodeHash))
                    .col(timestamp_with_time_zone_null(MfaRecoveryCodes::UsedAt))
                    .col(timestamp_with_time_zone(MfaRecoveryCodes::CreatedAt))
                    .foreign_key(&mut user_fk(
                        "fk_mfa_recovery_codes_user",
                        MfaRecoveryCodes::Table,
                        MfaRecoveryCodes::UserId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_mfa_recovery_codes_user_code")
                    .table(MfaRecoveryCodes::Table)
                    .col(MfaRecoveryCodes::UserId)
                    .col(MfaRecoveryCodes::CodeHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MfaChallenges::Table)
                    .col(pk_uuid(MfaChallenges::Id))
                    .col(string_uniq(MfaChallenges::TokenHash))
                    .col(uuid(MfaChallenges::UserId))
                    .col(string(MfaChallenges::Purpose))
                    .col(string(MfaChallenges::Flow))
                    .col(string_null(MfaChallenges::Organization))
                    .col(string(MfaChallenges::Methods))
                    .col(timestamp_with_time_zone(MfaChallenges::ExpiresAt))
                    .col(timestamp_with_time_zone_null(MfaChallenges::UsedAt))
                    .col(timestamp_with_time_zone(MfaChallenges::CreatedAt))
                    .foreign_key(&mut user_fk(
                        "fk_mfa_challenges_user",
                        MfaChallenges::Table,
                        MfaChallenges::UserId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_mfa_challenges_expires")
                    .table(MfaChallenges::Table)
                    .col(MfaChallenges::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            MfaChallenges::Table.into_iden(),
            MfaRecoveryCodes::Table.into_iden(),
            MfaTotp::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Organisations::Table)
                    .drop_column(Organisations::RequireMfa)
                    .to_owned(),
            )
            .await
    }
}
