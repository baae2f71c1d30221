//! What the seed services' clients need beyond the foundation: stable integer user numbers
//! (seed 001/002 clients address users by integer id), permissions granted directly to one
//! membership (seed 002's per-user permissions), Matrix accounts (seed 000) and password-reset
//! tokens (seed 004).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OrgMembers {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum UserNumbers {
    Table,
    Number,
    UserId,
}

#[derive(DeriveIden)]
enum MemberPermissions {
    Table,
    MemberId,
    Permission,
}

#[derive(DeriveIden)]
enum MatrixAccounts {
    Table,
    UserId,
    MatrixUserId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PasswordResets {
    Table,
    Id,
    UserId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    UsedAt,
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

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Numbers are never reused: AUTOINCREMENT on SQLite, a sequence on PostgreSQL.
        manager
            .create_table(
                Table::create()
                    .table(UserNumbers::Table)
                    .col(pk_auto(UserNumbers::Number))
                    .col(uuid_uniq(UserNumbers::UserId))
                    .foreign_key(&mut cascade(
                        "fk_user_numbers_user",
                        (UserNumbers::Table, UserNumbers::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        // Existing accounts are numbered in the order they were created.
        let backfill = Query::insert()
            .into_table(UserNumbers::Table)
            .columns([UserNumbers::UserId])
            .select_from(
                Query::select()
                    .column(Users::Id)
                    .from(Users::Table)
                    .order_by(Users::CreatedAt, Order::Asc)
                    .order_by(Users::Id, Order::Asc)
                    .to_owned(),
            )
            .map_err(|e| DbErr::Migration(e.to_string()))?
            .to_owned();
        manager.exec_stmt(backfill).await?;
        manager
            .create_table(
                Table::create()
                    .table(MemberPermissions::Table)
                    .col(uuid(MemberPermissions::MemberId))
                    .col(string(MemberPermissions::Permission))
                    .primary_key(
                        Index::create()
                            .col(MemberPermissions::MemberId)
                            .col(MemberPermissions::Permission),
                    )
                    .foreign_key(&mut cascade(
                        "fk_member_permissions_member",
                        (MemberPermissions::Table, MemberPermissions::MemberId),
                        (OrgMembers::Table, OrgMembers::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MatrixAccounts::Table)
                    .col(pk_uuid(MatrixAccounts::UserId))
                    .col(string_uniq(MatrixAccounts::MatrixUserId))
                    .col(timestamp_with_time_zone(MatrixAccounts::CreatedAt))
                    .foreign_key(&mut cascade(
                        "fk_matrix_accounts_user",
                        (MatrixAccounts::Table, MatrixAccounts::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PasswordResets::Table)
                    .col(pk_uuid(PasswordResets::Id))
                    .col(uuid(PasswordResets::UserId))
                    .col(string_uniq(PasswordResets::TokenHash))
                    .col(timestamp_with_time_zone(PasswordResets::CreatedAt))
                    .col(timestamp_with_time_zone(PasswordResets::ExpiresAt))
                    .col(timestamp_with_time_zone_null(PasswordResets::UsedAt))
                    .foreign_key(&mut cascade(
                        "fk_password_resets_user",
                        (PasswordResets::Table, PasswordResets::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_password_resets_user")
                    .table(PasswordResets::Table)
                    .col(PasswordResets::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            PasswordResets::Table.into_iden(),
            MatrixAccounts::Table.into_iden(),
            MemberPermissions::Table.into_iden(),
            UserNumbers::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
