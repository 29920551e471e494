//! The people of the inbox, as an admin registers them: a user id (the key of their state), a role
//! (an audience), and the email a Cloudflare Access login maps to.

use serde_json::{json, Value};

use crate::fields::{name_value, Fields, Invalid};

pub const USER_ID_MAX: usize = 64;
pub const ROLE_MAX: usize = 32;
pub const EMAIL_MAX: usize = 254;
pub const DISPLAY_NAME_MAX: usize = 100;

/// A registered person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: String,
    pub role: String,
    /// The Access identity that logs in as this person; lowercase.
    pub email: Option<String>,
    pub display_name: Option<String>,
}

impl Person {
    /// An admin's `POST /users` body.
    pub fn from_json(value: &Value) -> Result<Self, Invalid> {
        let fields = Fields::of(value, "body")?;
        fields.only(&["id", "role", "email", "display_name"])?;
        let email = fields
            .optional_text("email", EMAIL_MAX)?
            .map(|email| email.to_ascii_lowercase());
        if let Some(email) = &email {
            let plausible = email
                .split_once('@')
                .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
                && !email.contains(char::is_whitespace);
            if !plausible {
                return Err(Invalid::new("email", "must be an email address"));
            }
        }
        Ok(Self {
            id: name_value(fields.required("id")?, "id", USER_ID_MAX)?,
            role: name_value(fields.required("role")?, "role", ROLE_MAX)?,
            email,
            display_name: fields.optional_text("display_name", DISPLAY_NAME_MAX)?,
        })
    }

    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "role": self.role,
            "email": self.email,
            "display_name": self.display_name,
        })
    }

    /// How Slack messages name the person.
    pub fn label(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.id)
    }
}

/// A user id from a path (`/users/:id`), checked before it becomes part of a key.
pub fn user_id(raw: &str) -> Result<String, Invalid> {
    name_value(&Value::String(raw.to_owned()), "id", USER_ID_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_are_validated_and_emails_lowercased() {
        let person = Person::from_json(&json!({"id": "ann", "role": "operator", "email": "Ann@Example.COM"}))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(person.email.as_deref(), Some("ann@example.com"));
        assert_eq!(person.label(), "ann");
        for (body, field) in [
            (json!({"role": "operator"}), "id"),
            (json!({"id": "Ann", "role": "operator"}), "id"),
            (json!({"id": "ann", "role": "op:s"}), "role"),
            (json!({"id": "ann", "role": "ops", "email": "nobody"}), "email"),
            (json!({"id": "ann", "role": "ops", "admin": true}), "admin"),
        ] {
            assert_eq!(
                Person::from_json(&body).map_err(|e| e.field),
                Err(field.to_owned())
            );
        }
        assert!(user_id("a:b").is_err());
    }
}
