//! Teams, domains and service accounts.
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
enum Teams {
    Table,
    Id,
    OrgId,
    Slug,
    Name,
    ExternalRef,
    Active,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum TeamMembers {
    Table,
    TeamId,
    UserId,
    OrgId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Domains {
    Table,
    Id,
    OrgId,
    Key,
    Name,
    ParentId,
    Active,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum DomainUsers {
    Table,
    DomainId,
    UserId,
    OrgId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ServiceAccounts {
    Table,
    Id,
    OrgId,
    ClientId,
    SecretHash,
    Name,
    Permissions,
    Active,
    CreatedAt,
}

fn cascade(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn index(name: &str, table: impl IntoIden, cols: &[&'static str], unique: bool) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for col in cols {
        index.col(Alias::new(*col));
    }
    if unique {
        index.unique();
    }
    index.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Teams::Table)
                    .col(pk_uuid(Teams::Id))
                    .col(uuid(Teams::OrgId))
                    .col(string(Teams::Slug))
                    .col(string(Teams::Name))
                    .col(string_null(Teams::ExternalRef))
                    .col(boolean(Teams::Active))
                    .col(timestamp_with_time_zone(Teams::CreatedAt))
                    .col(timestamp_with_time_zone(Teams::UpdatedAt))
                    .foreign_key(&mut cascade(
                        "fk_teams_org",
                        (Teams::Table, Teams::OrgId),
                        (Organisations::Table, Organisations::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("ux_teams_org_slug", Teams::Table, &["org_id", "slug"], true))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TeamMembers::Table)
                    .col(uuid(TeamMembers::TeamId))
                    .col(uuid(TeamMembers::UserId))
                    .col(uuid(TeamMembers::OrgId))
                    .col(string(TeamMembers::Role))
                    .col(timestamp_with_time_zone(TeamMembers::CreatedAt))
                    .primary_key(Index::create().col(TeamMembers::TeamId).col(TeamMembers::UserId))
                    .foreign_key(&mut cascade(
                        "fk_team_members_team",
                        (TeamMembers::Table, TeamMembers::TeamId),
                        (Teams::Table, Teams::Id),
                    ))
                    .foreign_key(&mut cascade(
                        "fk_team_members_user",
                        (TeamMembers::Table, TeamMembers::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_team_members_org_user",
                TeamMembers::Table,
                &["org_id", "user_id"],
                false,
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Domains::Table)
                    .col(pk_uuid(Domains::Id))
                    .col(uuid(Domains::OrgId))
                    .col(string(Domains::Key))
                    .col(string(Domains::Name))
                    .col(uuid_null(Domains::ParentId))
                    .col(boolean(Domains::Active))
                    .col(timestamp_with_time_zone(Domains::CreatedAt))
                    .col(timestamp_with_time_zone(Domains::UpdatedAt))
                    .foreign_key(&mut cascade(
                        "fk_domains_org",
                        (Domains::Table, Domains::OrgId),
                        (Organisations::Table, Organisations::Id),
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_domains_parent")
                            .from(Domains::Table, Domains::ParentId)
                            .to(Domains::Table, Domains::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("ux_domains_org_key", Domains::Table, &["org_id", "key"], true))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DomainUsers::Table)
                    .col(uuid(DomainUsers::DomainId))
                    .col(uuid(DomainUsers::UserId))
                    .col(uuid(DomainUsers::OrgId))
                    .col(timestamp_with_time_zone(DomainUsers::CreatedAt))
                    .primary_key(Index::create().col(DomainUsers::DomainId).col(DomainUsers::UserId))
                    .foreign_key(&mut cascade(
                        "fk_domain_users_domain",
                        (DomainUsers::Table, DomainUsers::DomainId),
                        (Domains::Table, Domains::Id),
                    ))
                    .foreign_key(&mut cascade(
                        "fk_domain_users_user",
                        (DomainUsers::Table, DomainUsers::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_domain_users_org_user",
                DomainUsers::Table,
                &["org_id", "user_id"],
                false,
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ServiceAccounts::Table)
                    .col(pk_uuid(ServiceAccounts::Id))
                    .col(uuid(ServiceAccounts::OrgId))
                    .col(string_uniq(ServiceAccounts::ClientId))
                    .col(string(ServiceAccounts::SecretHash))
                    .col(string(ServiceAccounts::Name))
                    .col(text(ServiceAccounts::Permissions))
                    .col(boolean(ServiceAccounts::Active))
                    .col(timestamp_with_time_zone(ServiceAccounts::CreatedAt))
                    .foreign_key(&mut cascade(
                        "fk_service_accounts_org",
                        (ServiceAccounts::Table, ServiceAccounts::OrgId),
                        (Organisations::Table, Organisations::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_service_accounts_org",
                ServiceAccounts::Table,
                &["org_id"],
                false,
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ServiceAccounts::Table.into_iden(),
            DomainUsers::Table.into_iden(),
            Domains::Table.into_iden(),
            TeamMembers::Table.into_iden(),
            Teams::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
