//! Trust boundaries: whether an account's email is verified, each username's confusable
//! skeleton (UTS #39) kept unique, memberships an admin removed (so just-in-time provisioning does
//! not bring them back), and login attempts shared by every replica.
//!
//! Existing accounts count as verified unless the audit log shows they were self-registered,
//! made from development headers, provisioned by an identity provider (whether it asserted the
//! address is not known) or created by an administrator who is not a superuser.
use sea_orm_migration::sea_orm::prelude::Uuid;
use sea_orm_migration::sea_orm::{ConnectionTrait, FromQueryResult};
use sea_orm_migration::{prelude::*, schema::*};
use std::collections::BTreeSet;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    Superuser,
    EmailVerified,
    UsernameSkeleton,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    ActorId,
    Actor,
    Action,
    TargetType,
    TargetId,
}

#[derive(DeriveIden)]
enum Organisations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum RemovedMembers {
    Table,
    OrgId,
    UserId,
    RemovedAt,
}

#[derive(DeriveIden)]
enum LoginAttempts {
    Table,
    Key,
    Failures,
    LastFailureAt,
    LockedUntil,
}

#[derive(FromQueryResult)]
struct Created {
    target_id: Option<String>,
    action: String,
    actor: Option<String>,
    actor_superuser: Option<bool>,
}

#[derive(FromQueryResult)]
struct Named {
    id: Uuid,
    username: String,
}

/// The confusable skeleton of a username (as the service computes it).
pub fn skeleton(username: &str) -> String {
    unicode_security::skeleton(username).collect()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(boolean(Users::EmailVerified).default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(string_null(Users::UsernameSkeleton))
                    .to_owned(),
            )
            .await?;
        verify_existing(manager).await?;
        skeletons(manager).await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_users_username_skeleton")
                    .table(Users::Table)
                    .col(Users::UsernameSkeleton)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RemovedMembers::Table)
                    .col(uuid(RemovedMembers::OrgId))
                    .col(uuid(RemovedMembers::UserId))
                    .col(timestamp_with_time_zone(RemovedMembers::RemovedAt))
                    .primary_key(Index::create().col(RemovedMembers::OrgId).col(RemovedMembers::UserId))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_removed_members_org")
                            .from(RemovedMembers::Table, RemovedMembers::OrgId)
                            .to(Organisations::Table, Organisations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_removed_members_user")
                            .from(RemovedMembers::Table, RemovedMembers::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LoginAttempts::Table)
                    .col(string(LoginAttempts::Key).primary_key())
                    .col(integer(LoginAttempts::Failures))
                    .col(timestamp_with_time_zone(LoginAttempts::LastFailureAt))
                    .col(timestamp_with_time_zone_null(LoginAttempts::LockedUntil))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LoginAttempts::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(RemovedMembers::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("ux_users_username_skeleton")
                    .table(Users::Table)
                    .to_owned(),
            )
            .await?;
        for column in [Users::UsernameSkeleton, Users::EmailVerified] {
            manager
                .alter_table(Table::alter().table(Users::Table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}

/// Every existing account is verified but those the audit log says were made without proof of
/// the address.
async fn verify_existing(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let backend = db.get_database_backend();
    let all = Query::update()
        .table(Users::Table)
        .value(Users::EmailVerified, true)
        .to_owned();
    manager.exec_stmt(all).await?;
    let creations = Query::select()
        .column((AuditLog::Table, AuditLog::TargetId))
        .column((AuditLog::Table, AuditLog::Action))
        .column((AuditLog::Table, AuditLog::Actor))
        .expr_as(Expr::col((Users::Table, Users::Superuser)), "actor_superuser")
        .from(AuditLog::Table)
        .left_join(
            Users::Table,
            Expr::col((Users::Table, Users::Id)).equals((AuditLog::Table, AuditLog::ActorId)),
        )
        .and_where(Expr::col((AuditLog::Table, AuditLog::TargetType)).eq("user"))
        .and_where(Expr::col((AuditLog::Table, AuditLog::Action)).is_in([
            "user.register",
            "user.provision",
            "user.create",
        ]))
        .to_owned();
    let rows = Created::find_by_statement(backend.build(&creations)).all(db).await?;
    let unverified: BTreeSet<Uuid> = rows
        .into_iter()
        .filter(|r| {
            r.action != "user.create"
                || r.actor.as_deref() == Some("development headers")
                || r.actor_superuser != Some(true)
        })
        .filter_map(|r| r.target_id?.parse().ok())
        .collect();
    let unverified: Vec<Uuid> = unverified.into_iter().collect();
    for chunk in unverified.chunks(500) {
        let update = Query::update()
            .table(Users::Table)
            .value(Users::EmailVerified, false)
            .and_where(Expr::col(Users::Id).is_in(chunk.iter().copied()))
            .to_owned();
        manager.exec_stmt(update).await?;
    }
    Ok(())
}

/// Fills in the skeletons; of existing names that look alike, the first keeps its skeleton and
/// the others are grandfathered without one.
async fn skeletons(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let backend = db.get_database_backend();
    let select = Query::select()
        .column(Users::Id)
        .column(Users::Username)
        .from(Users::Table)
        .and_where(Expr::col(Users::Username).is_not_null())
        .order_by(Users::Id, Order::Asc)
        .to_owned();
    let named = Named::find_by_statement(backend.build(&select)).all(db).await?;
    let mut seen = BTreeSet::new();
    for user in named {
        let skeleton = skeleton(&user.username);
        if !seen.insert(skeleton.clone()) {
            continue;
        }
        let update = Query::update()
            .table(Users::Table)
            .value(Users::UsernameSkeleton, skeleton)
            .and_where(Expr::col(Users::Id).eq(user.id))
            .to_owned();
        manager.exec_stmt(update).await?;
    }
    Ok(())
}
