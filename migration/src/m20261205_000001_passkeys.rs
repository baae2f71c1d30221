//! Passkeys (WebAuthn): a user's registered credentials (the public key and its signature
//! counter as webauthn-rs serialises them, a name, when last used) and the ceremonies between a
//! request that hands out a challenge and the one that answers it (the server-side state,
//! single-use, short-lived).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum WebauthnCredentials {
    Table,
    Id,
    UserId,
    CredentialId,
    Name,
    Passkey,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum WebauthnCeremonies {
    Table,
    Id,
    UserId,
    Kind,
    Flow,
    State,
    ExpiresAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebauthnCredentials::Table)
                    .col(pk_uuid(WebauthnCredentials::Id))
                    .col(uuid(WebauthnCredentials::UserId))
                    .col(string_uniq(WebauthnCredentials::CredentialId))
                    .col(string(WebauthnCredentials::Name))
                    .col(text(WebauthnCredentials::Passkey))
                    .col(timestamp_with_time_zone(WebauthnCredentials::CreatedAt))
                    .col(timestamp_with_time_zone_null(WebauthnCredentials::LastUsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webauthn_credentials_user")
                            .from(WebauthnCredentials::Table, WebauthnCredentials::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webauthn_credentials_user")
                    .table(WebauthnCredentials::Table)
                    .col(WebauthnCredentials::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebauthnCeremonies::Table)
                    .col(pk_uuid(WebauthnCeremonies::Id))
                    .col(uuid_null(WebauthnCeremonies::UserId))
                    .col(string(WebauthnCeremonies::Kind))
                    .col(string(WebauthnCeremonies::Flow))
                    .col(text(WebauthnCeremonies::State))
                    .col(timestamp_with_time_zone(WebauthnCeremonies::ExpiresAt))
                    .col(timestamp_with_time_zone(WebauthnCeremonies::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webauthn_ceremonies_expires")
                    .table(WebauthnCeremonies::Table)
                    .col(WebauthnCeremonies::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            WebauthnCeremonies::Table.into_iden(),
            WebauthnCredentials::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
