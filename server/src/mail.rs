//! Outgoing mail: messages rendered from askama templates (a text and an HTML part), delivered by the job runner
//! through SMTP or, for the embedded default, written as `.eml` files into a local mail directory.

use std::path::PathBuf;
use std::time::Duration;

use app::auth::ssr::{MailNotice, MailRenderer, OutgoingMail};
use app::email::EmailAddress;
use askama::Template;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{MailSettings, MailUrl, SmtpSecurity};
use crate::jobs::OutboxMessage;

/// How long one SMTP conversation may take.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a message was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The stored message cannot be turned into mail (a bad address, say).
    #[error("cannot build the message")]
    Build(#[source] lettre::error::Error),
    /// A stored address does not parse.
    #[error("invalid address {0:?}")]
    Address(String),
    /// The SMTP server refused or could not be reached.
    #[error("SMTP delivery failed")]
    Smtp(#[source] lettre::transport::smtp::Error),
    /// The mail directory cannot be written.
    #[error("cannot write to the mail directory")]
    File(#[source] lettre::transport::file::Error),
}

impl MailError {
    /// Whether sending the same message again cannot succeed.
    pub fn is_permanent(&self) -> bool {
        match self {
            MailError::Build(_) | MailError::Address(_) => true,
            MailError::Smtp(error) => error.is_permanent(),
            MailError::File(_) => false,
        }
    }
}

#[derive(Debug, Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Directory(AsyncFileTransport<Tokio1Executor>),
}

/// Delivers outbox messages.
#[derive(Debug, Clone)]
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    message_id_domain: String,
}

/// A problem with the mail settings, found at startup.
#[derive(Debug, thiserror::Error)]
pub enum MailSetupError {
    /// The SMTP host is not a valid TLS server name.
    #[error("cannot set up TLS for the SMTP server {host}")]
    Tls {
        /// The host.
        host: String,
        /// Why.
        #[source]
        source: lettre::transport::smtp::Error,
    },
    /// The extra root certificates cannot be read or are not PEM certificates.
    #[error("cannot use the certificates in {path} (mail-ca-file)")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The mail directory cannot be created.
    #[error("cannot create the mail directory {path}")]
    Directory {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl Mailer {
    /// A mailer for `settings`. Creates the mail directory when that is the transport.
    pub fn new(settings: &MailSettings, base_url: &url::Url) -> Result<Self, MailSetupError> {
        let transport = match &settings.url {
            MailUrl::Smtp { host, port, security, credentials } => {
                let tls_error = |source| MailSetupError::Tls { host: host.clone(), source };
                let mut parameters = TlsParameters::builder(host.clone());
                if let Some(path) = &settings.ca_file {
                    let ca_error = |source: Box<dyn std::error::Error + Send + Sync>| MailSetupError::CaFile {
                        path: path.clone(),
                        source,
                    };
                    let pem = std::fs::read(path).map_err(|error| ca_error(Box::new(error)))?;
                    let certificate = Certificate::from_pem(&pem).map_err(|error| ca_error(Box::new(error)))?;
                    parameters = parameters.add_root_certificate(certificate);
                }
                let tls = match security {
                    SmtpSecurity::None => Tls::None,
                    SmtpSecurity::StartTls => Tls::Required(parameters.build().map_err(tls_error)?),
                    SmtpSecurity::Tls => Tls::Wrapper(parameters.build().map_err(tls_error)?),
                };
                let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
                    .port(*port)
                    .tls(tls)
                    .timeout(Some(SMTP_TIMEOUT));
                if let Some((user, password)) = credentials {
                    builder = builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
                }
                Transport::Smtp(builder.build())
            }
            MailUrl::Directory(path) => {
                std::fs::create_dir_all(path)
                    .map_err(|source| MailSetupError::Directory { path: path.clone(), source })?;
                Transport::Directory(AsyncFileTransport::new(path))
            }
        };
        let message_id_domain = base_url.host_str().unwrap_or("berth.invalid").to_owned();
        Ok(Self { transport, from: settings.from.clone(), message_id_domain })
    }

    /// Delivers one outbox message.
    pub async fn send(&self, message: &OutboxMessage) -> Result<(), MailError> {
        let to: Mailbox = message.recipient.parse().map_err(|_| MailError::Address(message.recipient.clone()))?;
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&message.subject)
            // The same id on every attempt, so that a message delivered twice after a crash can be recognised.
            .message_id(Some(format!("<outbox-{}@{}>", message.id, self.message_id_domain)));
        // RFC 8058: mail clients offer "unsubscribe", and a POST to the URL does it without a page.
        let email = match &message.list_unsubscribe {
            Some(url) => email
                .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("List-Unsubscribe"), format!("<{url}>")))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".to_owned(),
                )),
            None => email,
        };
        let email = email
            .multipart(MultiPart::alternative_plain_html(message.text_body.clone(), message.html_body.clone()))
            .map_err(MailError::Build)?;
        match &self.transport {
            Transport::Smtp(smtp) => {
                smtp.send(email).await.map_err(MailError::Smtp)?;
                tracing::info!(outbox = message.id, "mail delivered over SMTP");
            }
            Transport::Directory(files) => {
                let id = files.send(email).await.map_err(MailError::File)?;
                tracing::info!(outbox = message.id, file = %format!("{id}.eml"), "mail written to the mail directory");
            }
        }
        Ok(())
    }
}

/// The sign-in link message.
#[derive(Template)]
#[template(path = "sign_in_link.txt")]
struct SignInLinkText<'a> {
    link: &'a str,
    valid_minutes: u32,
    base_url: &'a str,
}

/// The sign-in link message, HTML part (escaped by askama).
#[derive(Template)]
#[template(path = "sign_in_link.html")]
struct SignInLinkHtml<'a> {
    link: &'a str,
    valid_minutes: u32,
    base_url: &'a str,
}

/// The message that proves an address before a provider sign-in is linked to its account.
#[derive(Template)]
#[template(path = "join_link.txt")]
struct JoinLinkText<'a> {
    link: &'a str,
    valid_minutes: u32,
    provider: &'a str,
    base_url: &'a str,
}

/// The same, HTML part (escaped by askama).
#[derive(Template)]
#[template(path = "join_link.html")]
struct JoinLinkHtml<'a> {
    link: &'a str,
    valid_minutes: u32,
    provider: &'a str,
    base_url: &'a str,
}

/// A notice about a change (an application decided, a comment), text part.
#[derive(Template)]
#[template(path = "notice.txt")]
struct NoticeText<'a> {
    paragraphs: &'a [String],
    link: &'a str,
    link_label: &'a str,
    base_url: &'a str,
}

/// The same, HTML part (escaped by askama: the paragraphs may hold text people typed).
#[derive(Template)]
#[template(path = "notice.html")]
struct NoticeHtml<'a> {
    subject: &'a str,
    paragraphs: &'a [String],
    link: &'a str,
    link_label: &'a str,
    base_url: &'a str,
}

/// Renders Berth's messages from the templates in `server/templates`.
#[derive(Debug, Clone)]
pub struct TemplateRenderer {
    base_url: String,
}

impl TemplateRenderer {
    /// A renderer whose messages point at `base_url`.
    pub fn new(base_url: &url::Url) -> Self {
        Self { base_url: base_url.as_str().trim_end_matches('/').to_owned() }
    }
}

impl MailRenderer for TemplateRenderer {
    fn sign_in_link(&self, to: &EmailAddress, link: &str, valid_minutes: u32) -> OutgoingMail {
        let base_url = &self.base_url;
        let text = SignInLinkText { link, valid_minutes, base_url };
        let html = SignInLinkHtml { link, valid_minutes, base_url };
        OutgoingMail {
            recipient: to.clone(),
            subject: "Your sign-in link for Berth".to_owned(),
            // Rendering fills plain fields into fixed templates; it fails only if a template is broken, which the
            // tests below catch.
            text_body: text.render().expect("the sign-in text template renders"),
            html_body: html.render().expect("the sign-in HTML template renders"),
            secret_expires_at: None,
            list_unsubscribe: None,
        }
    }

    fn join_link(&self, to: &EmailAddress, link: &str, valid_minutes: u32, provider: &str) -> OutgoingMail {
        let base_url = &self.base_url;
        let text = JoinLinkText { link, valid_minutes, provider, base_url };
        let html = JoinLinkHtml { link, valid_minutes, provider, base_url };
        OutgoingMail {
            recipient: to.clone(),
            subject: format!("Link {provider} to your Berth account?"),
            text_body: text.render().expect("the join text template renders"),
            html_body: html.render().expect("the join HTML template renders"),
            secret_expires_at: None,
            list_unsubscribe: None,
        }
    }

    fn notice(&self, to: &EmailAddress, notice: &MailNotice) -> OutgoingMail {
        let base_url = &self.base_url;
        let link = format!("{base_url}{}", notice.path);
        let (paragraphs, link_label) = (notice.paragraphs.as_slice(), notice.link_label.as_str());
        let text = NoticeText { paragraphs, link: &link, link_label, base_url };
        let html = NoticeHtml { subject: &notice.subject, paragraphs, link: &link, link_label, base_url };
        OutgoingMail {
            recipient: to.clone(),
            subject: notice.subject.clone(),
            text_body: text.render().expect("the notice text template renders"),
            html_body: html.render().expect("the notice HTML template renders"),
            secret_expires_at: None,
            list_unsubscribe: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sign_in_mail_has_both_parts_and_escapes_html() {
        let renderer = TemplateRenderer::new(&url::Url::parse("https://berth.example.org/").unwrap());
        let to = EmailAddress::parse("ada@example.org").unwrap();
        let mail = renderer.sign_in_link(&to, "https://berth.example.org/signin/link?token=a&b=<c>", 15);
        assert!(mail.text_body.contains("https://berth.example.org/signin/link?token=a&b=<c>"));
        assert!(mail.text_body.contains("within 15 minutes"));
        assert!(
            mail.html_body.contains("token=a&#38;b=&#60;c&#62;") || mail.html_body.contains("token=a&amp;b=&lt;c&gt;")
        );
        assert!(!mail.html_body.contains("<c>"));
        assert_eq!(mail.recipient, to);
        assert!(!format!("{mail:?}").contains("token="), "Debug output hides the link");
    }

    #[test]
    fn notices_link_to_their_page_and_escape_what_people_typed() {
        let renderer = TemplateRenderer::new(&url::Url::parse("https://berth.example.org/").unwrap());
        let to = EmailAddress::parse("ada@example.org").unwrap();
        let notice = MailNotice {
            subject: "Approved: ml-lab".into(),
            paragraphs: vec!["First.".into(), "Reason: <script>alert(1)</script> & more".into()],
            path: "/applications/7".into(),
            link_label: "See the application".into(),
        };
        let mail = renderer.notice(&to, &notice);
        assert_eq!(mail.subject, "Approved: ml-lab");
        assert!(mail.text_body.contains("See the application: https://berth.example.org/applications/7"));
        assert!(mail.text_body.contains("Reason: <script>alert(1)</script> & more"), "text is plain");
        assert!(mail.html_body.contains("href=\"https://berth.example.org/applications/7\""));
        assert!(!mail.html_body.contains("<script>"), "HTML is escaped");
    }

    #[test]
    fn the_join_mail_names_the_provider_escaped() {
        let renderer = TemplateRenderer::new(&url::Url::parse("https://berth.example.org/").unwrap());
        let to = EmailAddress::parse("ada@example.org").unwrap();
        let mail = renderer.join_link(&to, "https://berth.example.org/signin/link?token=t", 10, "Uni <IdP>");
        assert!(mail.subject.contains("Uni <IdP>") && mail.text_body.contains("same\nbrowser"));
        assert!(!mail.html_body.contains("<IdP>") && mail.html_body.contains("token=t"));
    }
}
