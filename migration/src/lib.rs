//! guildhall's schema migrations. `guildhall migrate` and the `migration` binary both run them;
//! the service applies them at start.
pub use sea_orm_migration::prelude::*;

mod m20261123_000001_foundation;
mod m20261123_000002_tenancy;
mod m20261123_000003_events;
mod m20261123_000004_identity_providers;
mod m20261123_000010_oidc_login;
mod m20261124_000001_compat;
mod m20261201_000001_trust;
mod m20261202_000001_consent;
mod m20261202_000010_provider;
mod m20261203_000001_webhooks;
mod m20261204_000001_mfa;
mod m20261205_000001_passkeys;
mod m20261206_000001_outbox_order;
mod m20261207_000001_outbox_partial;
mod m20261207_000002_roles_version;

/// The confusable skeleton (UTS #39) a username is kept unique by.
pub use m20261201_000001_trust::skeleton as username_skeleton;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_foundation::Migration),
            Box::new(m20261123_000002_tenancy::Migration),
            Box::new(m20261123_000003_events::Migration),
            Box::new(m20261123_000004_identity_providers::Migration),
            Box::new(m20261123_000010_oidc_login::Migration),
            Box::new(m20261124_000001_compat::Migration),
            Box::new(m20261201_000001_trust::Migration),
            Box::new(m20261202_000001_consent::Migration),
            Box::new(m20261202_000010_provider::Migration),
            Box::new(m20261203_000001_webhooks::Migration),
            Box::new(m20261204_000001_mfa::Migration),
            Box::new(m20261205_000001_passkeys::Migration),
            Box::new(m20261206_000001_outbox_order::Migration),
            Box::new(m20261207_000001_outbox_partial::Migration),
            Box::new(m20261207_000002_roles_version::Migration),
        ]
    }
}
