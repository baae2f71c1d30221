//! Keyset pagination: rows ordered by id (UUIDv7, so by creation), `limit + 1` fetched to know
//! whether another page follows.
use crate::model::{Page, PageRequest};
use uuid::Uuid;

pub fn finish<T>(mut items: Vec<T>, request: PageRequest, total: u64, id: impl Fn(&T) -> Uuid) -> Page<T> {
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
