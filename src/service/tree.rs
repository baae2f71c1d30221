//! The rules of the domain tree: paths from the root, subtree expansion, cycle detection.
//! An inactive domain grants nothing, and neither does anything below it.
use crate::model::{Domain, DomainGrant};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

pub struct DomainTree {
    nodes: HashMap<Uuid, Domain>,
    children: HashMap<Uuid, Vec<Uuid>>,
}

impl DomainTree {
    pub fn new(domains: Vec<Domain>) -> Self {
        let mut children: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
        for d in &domains {
            if let Some(parent) = d.parent_id {
                children.entry(parent).or_default().push(d.id);
            }
        }
        let nodes: HashMap<Uuid, Domain> = domains.into_iter().map(|d| (d.id, d)).collect();
        let key = |id: &Uuid| nodes.get(id).map(|d| d.key.clone()).unwrap_or_default();
        for list in children.values_mut() {
            list.sort_by_key(|id| key(id));
        }
        Self { nodes, children }
    }

    pub fn get(&self, id: Uuid) -> Option<&Domain> {
        self.nodes.get(&id)
    }

    /// Keys from the root to `id`, joined by `/`; `None` if the node, or an ancestor, is
    /// inactive or missing.
    pub fn path(&self, id: Uuid) -> Option<String> {
        let mut keys = Vec::new();
        let mut seen = HashSet::new();
        let mut current = Some(id);
        while let Some(node_id) = current {
            if !seen.insert(node_id) {
                return None;
            }
            let node = self.nodes.get(&node_id).filter(|n| n.active)?;
            keys.push(node.key.as_str());
            current = node.parent_id;
        }
        keys.reverse();
        Some(keys.join("/"))
    }

    pub fn grant(&self, id: Uuid) -> Option<DomainGrant> {
        let node = self.nodes.get(&id)?;
        Some(DomainGrant {
            id,
            key: node.key.clone(),
            name: node.name.clone(),
            path: self.path(id)?,
        })
    }

    /// `id` and every node below it.
    pub fn subtree(&self, id: Uuid) -> Vec<Uuid> {
        let mut out = Vec::new();
        let mut stack = vec![id];
        let mut seen = HashSet::new();
        while let Some(node) = stack.pop() {
            if !seen.insert(node) {
                continue;
            }
            out.push(node);
            if let Some(kids) = self.children.get(&node) {
                stack.extend(kids.iter().rev());
            }
        }
        out
    }

    /// The grants of `assigned` (sorted by path), and the same with their subtrees.
    pub fn grants(&self, assigned: &[Uuid]) -> (Vec<DomainGrant>, Vec<DomainGrant>) {
        let mut direct: Vec<DomainGrant> = assigned.iter().filter_map(|id| self.grant(*id)).collect();
        direct.sort_by(|a, b| a.path.cmp(&b.path));
        let mut seen = HashSet::new();
        let mut expanded: Vec<DomainGrant> = direct
            .iter()
            .flat_map(|g| self.subtree(g.id))
            .filter(|id| seen.insert(*id))
            .filter_map(|id| self.grant(id))
            .collect();
        expanded.sort_by(|a, b| a.path.cmp(&b.path));
        (direct, expanded)
    }

    /// Whether making `parent` the parent of `id` would close a loop.
    pub fn would_cycle(&self, id: Uuid, parent: Uuid) -> bool {
        self.subtree(id).contains(&parent)
    }

    /// All nodes, parents before children, siblings by key.
    pub fn ordered(&self) -> Vec<&Domain> {
        let mut roots: Vec<&Domain> = self
            .nodes
            .values()
            .filter(|d| d.parent_id.is_none_or(|p| !self.nodes.contains_key(&p)))
            .collect();
        roots.sort_by(|a, b| a.key.cmp(&b.key));
        let mut out = Vec::new();
        for root in roots {
            for id in self.subtree(root.id) {
                if let Some(node) = self.nodes.get(&id) {
                    out.push(node);
                }
            }
        }
        out
    }

    pub fn children_of(&self, id: Uuid) -> Vec<&Domain> {
        let mut kids: Vec<&Domain> = self
            .children
            .get(&id)
            .map(|k| k.iter().filter_map(|c| self.nodes.get(c)).collect())
            .unwrap_or_default();
        kids.sort_by(|a, b| a.key.cmp(&b.key));
        kids
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn domain(key: &str, parent: Option<&Domain>, active: bool) -> Domain {
        let now = Utc.timestamp_opt(0, 0).unwrap();
        Domain {
            id: Uuid::new_v4(),
            org_id: Uuid::nil(),
            key: key.into(),
            name: key.to_uppercase(),
            parent_id: parent.map(|p| p.id),
            active,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn paths_subtrees_and_inactive_branches() {
        let eng = domain("engineering", None, true);
        let backend = domain("backend", Some(&eng), true);
        let db = domain("db", Some(&backend), true);
        let frontend = domain("frontend", Some(&eng), false);
        let web = domain("web", Some(&frontend), true);
        let sales = domain("sales", None, true);
        let tree = DomainTree::new(vec![
            eng.clone(),
            backend.clone(),
            db.clone(),
            frontend.clone(),
            web.clone(),
            sales.clone(),
        ]);
        assert_eq!(tree.path(db.id).as_deref(), Some("engineering/backend/db"));
        assert_eq!(tree.path(web.id), None, "below an inactive domain");
        let (direct, expanded) = tree.grants(&[eng.id]);
        assert_eq!(
            direct.iter().map(|g| g.path.as_str()).collect::<Vec<_>>(),
            ["engineering"]
        );
        assert_eq!(
            expanded.iter().map(|g| g.path.as_str()).collect::<Vec<_>>(),
            ["engineering", "engineering/backend", "engineering/backend/db"]
        );
        let (_, expanded) = tree.grants(&[backend.id, db.id, sales.id]);
        assert_eq!(expanded.len(), 3, "overlapping assignments are not repeated");
        assert!(tree.would_cycle(eng.id, db.id));
        assert!(tree.would_cycle(eng.id, eng.id));
        assert!(!tree.would_cycle(db.id, sales.id));
        let order: Vec<&str> = tree.ordered().iter().map(|d| d.key.as_str()).collect();
        assert_eq!(order, ["engineering", "backend", "db", "frontend", "web", "sales"]);
    }
}
