//! Membership by consent: email-verification tokens, invitations to organisations, and the email
//! domains an organisation proves it owns with a DNS TXT record.
//!
//! - `email_verifications`: a single-use token (its SHA-256) for one address of one account.
//! - `invitations`: an address, what it grants (roles, teams, domains as JSON), a single-use token
//!   (its SHA-256, replaced on resend), its expiry and how it ended (accepted or revoked).
//! - `email_domains`: an organisation's claim on a domain with its challenge value; once proven,
//!   `verified_domain` holds the domain, and its unique index keeps one organisation per verified
//!   domain (unverified claims are NULL there, and NULLs never collide).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organisations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum EmailVerifications {
    Table,
    Id,
    UserId,
    Email,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum Invitations {
    Table,
    Id,
    OrgId,
    Email,
    Roles,
    Teams,
    Domains,
    TokenHash,
    InvitedBy,
    InviterName,
    CreatedAt,
    ExpiresAt,
    SentAt,
    AcceptedAt,
    AcceptedBy,
    RevokedAt,
}

#[derive(DeriveIden)]
enum EmailDomains {
    Table,
    Id,
    OrgId,
    Domain,
    Challenge,
    VerifiedAt,
    VerifiedDomain,
    JoinPolicy,
    JoinRoles,
    CreatedAt,
    UpdatedAt,
}

fn org_fk(from: (impl IntoIden, impl IntoIden), name: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(Organisations::Table, Organisations::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(EmailVerifications::Table)
                    .col(pk_uuid(EmailVerifications::Id))
                    .col(uuid(EmailVerifications::UserId))
                    .col(string(EmailVerifications::Email))
                    .col(string_uniq(EmailVerifications::TokenHash))
                    .col(timestamp_with_time_zone(EmailVerifications::CreatedAt))
                    .col(timestamp_with_time_zone(EmailVerifications::ExpiresAt))
                    .col(timestamp_with_time_zone_null(EmailVerifications::UsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_email_verifications_user")
                            .from(EmailVerifications::Table, EmailVerifications::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Invitations::Table)
                    .col(pk_uuid(Invitations::Id))
                    .col(uuid(Invitations::OrgId))
                    .col(string(Invitations::Email))
                    .col(text(Invitations::Roles))
                    .col(text(Invitations::Teams))
                    .col(text(Invitations::Domains))
                    .col(string_uniq(Invitations::TokenHash))
                    .col(uuid_null(Invitations::InvitedBy))
                    .col(string(Invitations::InviterName))
                    .col(timestamp_with_time_zone(Invitations::CreatedAt))
                    .col(timestamp_with_time_zone(Invitations::ExpiresAt))
                    .col(timestamp_with_time_zone(Invitations::SentAt))
                    .col(timestamp_with_time_zone_null(Invitations::AcceptedAt))
                    .col(uuid_null(Invitations::AcceptedBy))
                    .col(timestamp_with_time_zone_null(Invitations::RevokedAt))
                    .foreign_key(&mut org_fk(
                        (Invitations::Table, Invitations::OrgId),
                        "fk_invitations_org",
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_invitations_inviter")
                            .from(Invitations::Table, Invitations::InvitedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_invitations_accepted_by")
                            .from(Invitations::Table, Invitations::AcceptedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_invitations_org_email")
                    .table(Invitations::Table)
                    .col(Invitations::OrgId)
                    .col(Invitations::Email)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EmailDomains::Table)
                    .col(pk_uuid(EmailDomains::Id))
                    .col(uuid(EmailDomains::OrgId))
                    .col(string(EmailDomains::Domain))
                    .col(string(EmailDomains::Challenge))
                    .col(timestamp_with_time_zone_null(EmailDomains::VerifiedAt))
                    .col(string_null(EmailDomains::VerifiedDomain))
                    .col(string(EmailDomains::JoinPolicy))
                    .col(text(EmailDomains::JoinRoles))
                    .col(timestamp_with_time_zone(EmailDomains::CreatedAt))
                    .col(timestamp_with_time_zone(EmailDomains::UpdatedAt))
                    .foreign_key(&mut org_fk(
                        (EmailDomains::Table, EmailDomains::OrgId),
                        "fk_email_domains_org",
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_email_domains_org_domain")
                    .table(EmailDomains::Table)
                    .col(EmailDomains::OrgId)
                    .col(EmailDomains::Domain)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_email_domains_verified")
                    .table(EmailDomains::Table)
                    .col(EmailDomains::VerifiedDomain)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            EmailDomains::Table.into_iden(),
            Invitations::Table.into_iden(),
            EmailVerifications::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
