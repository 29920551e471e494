//! Which project a resource belongs to: its scripts (the source of `SCRIPT_MAP`) and the resources
//! each project declares in services.yaml. Anything else is unattributed, shown as such.

use crate::services::ServicesDocument;

/// Owners by resource, the first claim winning (a list, not a map: the collector's wasm stays
/// small; a config owns at most a few hundred names).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attribution {
    owners: Vec<(String, String)>,
}

impl Attribution {
    fn listed(owners: Vec<(String, String)>) -> Self {
        Self { owners }
    }

    pub fn from_services(services: &ServicesDocument) -> Self {
        let owners = services
            .projects
            .iter()
            .flat_map(|(id, project)| {
                project
                    .scripts
                    .iter()
                    .chain(&project.resources)
                    .map(move |name| (name.clone(), id.as_str().to_owned()))
            })
            .collect();
        Self::listed(owners)
    }

    /// From the applied config as sync-config records it (`{"services": {"projects": ...}}`),
    /// read without decoding the whole document.
    pub fn from_config_json(document: &serde_json::Value) -> Self {
        let mut owners = Vec::new();
        let projects = document["services"]["projects"].as_object().into_iter().flatten();
        for (project, fields) in projects {
            let names = ["scripts", "resources"]
                .into_iter()
                .flat_map(|list| fields[list].as_array().into_iter().flatten())
                .filter_map(serde_json::Value::as_str);
            for name in names {
                owners.push((name.to_owned(), project.clone()));
            }
        }
        Self::listed(owners)
    }

    /// Every project that owns something, each once.
    pub fn projects(&self) -> Vec<&str> {
        let mut projects: Vec<&str> = Vec::new();
        for (_, project) in &self.owners {
            if !projects.contains(&project.as_str()) {
                projects.push(project);
            }
        }
        projects
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self::listed(
            pairs
                .into_iter()
                .map(|(resource, project)| (resource.to_owned(), project.to_owned()))
                .collect(),
        )
    }

    /// The owning project of a script name or resource id.
    pub fn project(&self, resource: &str) -> Option<&str> {
        self.owners
            .iter()
            .find(|(owned, _)| owned == resource)
            .map(|(_, project)| project.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recorded_config_and_the_document_agree() {
        let document = serde_json::json!({ "services": { "projects": {
            "shop": { "scripts": ["shop-api"], "resources": ["0f2ac74b498b48028cb68387c421e279", "images"] },
            "blog": { "scripts": ["blog"] },
        } } });
        let owners = Attribution::from_config_json(&document);
        assert_eq!(owners.project("shop-api"), Some("shop"));
        assert_eq!(owners.project("images"), Some("shop"));
        assert_eq!(owners.project("blog"), Some("blog"));
        assert_eq!(owners.project("stray"), None);
        assert_eq!(owners.projects().len(), 2);
        let services: ServicesDocument = serde_json::from_value(serde_json::json!({ "projects": {
            "shop": { "display_name": "Shop", "repository": "acme/shop", "tier": 1,
                      "scripts": ["shop-api"], "resources": ["images"] } } }))
        .unwrap();
        assert_eq!(
            Attribution::from_services(&services).project("images"),
            Some("shop")
        );
        assert_eq!(
            Attribution::from_config_json(&serde_json::json!({})),
            Attribution::default()
        );
    }
}
