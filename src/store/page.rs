//! Keyset pagination: rows ordered by id (UUIDv7, so by creation), `limit + 1` fetched to know
//! whether another page follows, and the total on the first page only (a `COUNT(*)` per page
//! would make deep pages cost the whole table; clients paging on already know it).
use super::{Conn, Result};
use crate::model::{Page, PageRequest};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select};
use uuid::Uuid;

/// One page of `base`, keyed by the UUID column `id`.
pub async fn paginate<E, C, T>(
    c: &C,
    base: Select<E>,
    id: E::Column,
    request: PageRequest,
    map: impl Fn(E::Model) -> T,
    id_of: impl Fn(&T) -> Uuid,
) -> Result<Page<T>>
where
    E: EntityTrait,
    E::Model: Send + Sync,
    C: Conn,
{
    let total = match request.after {
        None => Some(base.clone().count(c).await?),
        Some(_) => None,
    };
    let mut query = base.order_by_asc(id).limit(request.limit + 1);
    if let Some(after) = request.after {
        query = query.filter(id.gt(after));
    }
    let items = query.all(c).await?.into_iter().map(map).collect();
    Ok(finish(items, request, total, id_of))
}

pub fn finish<T>(mut items: Vec<T>, request: PageRequest, total: Option<u64>, id: impl Fn(&T) -> Uuid) -> Page<T> {
    let limit = usize::try_from(request.limit).unwrap_or(usize::MAX);
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|last| id(last).to_string())
    } else {
        None
    };
    Page {
        items,
        total,
        next_cursor,
    }
}
