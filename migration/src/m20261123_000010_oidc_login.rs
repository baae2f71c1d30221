//! Logging in through external OpenID Connect providers: identities linked to users by
//! (issuer, subject), pending logins keyed by their `state`, and the one-time codes that hand our
//! tokens to the frontend.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum UserIdentities {
    Table,
    Id,
    UserId,
    Issuer,
    Subject,
    ProviderSlug,
    Email,
    CreatedAt,
    LastLoginAt,
}

#[derive(DeriveIden)]
enum OidcLogins {
    Table,
    StateDigest,
    ProviderSlug,
    BrowserDigest,
    PkceVerifier,
    Nonce,
    CallbackUrl,
    RedirectUri,
    ClientState,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum OidcCodes {
    Table,
    CodeDigest,
    UserId,
    OrgId,
    ProviderSlug,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UserIdentities::Table)
                    .col(pk_uuid(UserIdentities::Id))
                    .col(uuid(UserIdentities::UserId))
                    .col(string(UserIdentities::Issuer))
                    .col(string(UserIdentities::Subject))
                    .col(string(UserIdentities::ProviderSlug))
                    .col(string_null(UserIdentities::Email))
                    .col(timestamp_with_time_zone(UserIdentities::CreatedAt))
                    .col(timestamp_with_time_zone(UserIdentities::LastLoginAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_user_identities_user")
                            .from(UserIdentities::Table, UserIdentities::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_user_identities_issuer_subject")
                    .table(UserIdentities::Table)
                    .col(UserIdentities::Issuer)
                    .col(UserIdentities::Subject)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_user_identities_user")
                    .table(UserIdentities::Table)
                    .col(UserIdentities::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OidcLogins::Table)
                    .col(string(OidcLogins::StateDigest).primary_key())
                    .col(string(OidcLogins::ProviderSlug))
                    .col(string(OidcLogins::BrowserDigest))
                    .col(string(OidcLogins::PkceVerifier))
                    .col(string(OidcLogins::Nonce))
                    .col(text(OidcLogins::CallbackUrl))
                    .col(text(OidcLogins::RedirectUri))
                    .col(text_null(OidcLogins::ClientState))
                    .col(timestamp_with_time_zone(OidcLogins::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OidcCodes::Table)
                    .col(string(OidcCodes::CodeDigest).primary_key())
                    .col(uuid(OidcCodes::UserId))
                    .col(uuid(OidcCodes::OrgId))
                    .col(string(OidcCodes::ProviderSlug))
                    .col(timestamp_with_time_zone(OidcCodes::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_oidc_codes_user")
                            .from(OidcCodes::Table, OidcCodes::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            OidcCodes::Table.into_iden(),
            OidcLogins::Table.into_iden(),
            UserIdentities::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
