//! External OpenID Connect providers per organisation.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organisations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum IdentityProviders {
    Table,
    Id,
    OrgId,
    Slug,
    Name,
    Issuer,
    ClientId,
    ClientSecret,
    Scopes,
    EmailDomains,
    Jit,
    LinkByEmail,
    GroupsClaim,
    Mappings,
    Active,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(IdentityProviders::Table)
                    .col(pk_uuid(IdentityProviders::Id))
                    .col(uuid(IdentityProviders::OrgId))
                    .col(string_uniq(IdentityProviders::Slug))
                    .col(string(IdentityProviders::Name))
                    .col(string(IdentityProviders::Issuer))
                    .col(string(IdentityProviders::ClientId))
                    .col(text_null(IdentityProviders::ClientSecret))
                    .col(string(IdentityProviders::Scopes))
                    .col(text(IdentityProviders::EmailDomains))
                    .col(boolean(IdentityProviders::Jit))
                    .col(boolean(IdentityProviders::LinkByEmail))
                    .col(string(IdentityProviders::GroupsClaim))
                    .col(text(IdentityProviders::Mappings))
                    .col(boolean(IdentityProviders::Active))
                    .col(timestamp_with_time_zone(IdentityProviders::CreatedAt))
                    .col(timestamp_with_time_zone(IdentityProviders::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_identity_providers_org")
                            .from(IdentityProviders::Table, IdentityProviders::OrgId)
                            .to(Organisations::Table, Organisations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_identity_providers_org")
                    .table(IdentityProviders::Table)
                    .col(IdentityProviders::OrgId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(IdentityProviders::Table).to_owned())
            .await
    }
}
