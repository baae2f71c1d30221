//! Failed-login counters shared by every replica (PostgreSQL): one row per subject, updated
//! under a row lock so concurrent attempts on any replica are counted one after another.
use super::{Db, Result};
use chrono::{DateTime, Utc};
use entity::login_attempt;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, EntityTrait, QuerySelect};

/// A subject's failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failures {
    pub count: u32,
    pub last: DateTime<Utc>,
    pub locked_until: Option<DateTime<Utc>>,
}

/// Reads the counter of `key` under a row lock and stores what `update` makes of it; nothing is
/// stored when `update` refuses.
pub async fn count<E>(
    db: &Db,
    key: &str,
    update: impl FnOnce(Option<Failures>) -> std::result::Result<Failures, E>,
) -> Result<std::result::Result<Failures, E>> {
    let tx = super::begin(db).await?;
    let blank = login_attempt::ActiveModel {
        key: Set(key.to_owned()),
        failures: Set(0),
        last_failure_at: Set(DateTime::UNIX_EPOCH),
        locked_until: Set(None),
    };
    login_attempt::Entity::insert(blank)
        .on_conflict(OnConflict::column(login_attempt::Column::Key).do_nothing().to_owned())
        .exec_without_returning(&tx)
        .await?;
    let row = login_attempt::Entity::find_by_id(key.to_owned())
        .lock_exclusive()
        .one(&tx)
        .await?;
    let before = row
        .filter(|r| r.failures > 0 || r.locked_until.is_some())
        .map(|r| Failures {
            count: u32::try_from(r.failures).unwrap_or(0),
            last: r.last_failure_at,
            locked_until: r.locked_until,
        });
    let after = match update(before) {
        Ok(after) => after,
        Err(refused) => return Ok(Err(refused)),
    };
    let row = login_attempt::ActiveModel {
        key: Set(key.to_owned()),
        failures: Set(i32::try_from(after.count).unwrap_or(i32::MAX)),
        last_failure_at: Set(after.last),
        locked_until: Set(after.locked_until),
    };
    login_attempt::Entity::update(row).exec(&tx).await?;
    super::commit(tx).await?;
    Ok(Ok(after))
}

/// Forgets a subject's failures.
pub async fn forget(db: &Db, key: &str) -> Result<()> {
    login_attempt::Entity::delete_by_id(key.to_owned()).exec(db).await?;
    Ok(())
}
