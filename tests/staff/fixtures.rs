//! Staff replies as real mail clients write them, in many languages, read
//! whole: a table of fixtures built here from the parts clients assemble
//! (the staff member's words, a signature, the client's attribution or
//! header block, the quoted approval request) and encoded the ways they
//! send them (8bit, quoted-printable, base64, format=flowed, windows-1252,
//! HTML only). Each row gives the decision, the field lines and the message
//! expected; no message may carry a line of the quote or of a signature.

use chrono::{TimeZone, Utc};
use guichet::domain::{FieldReading, Reason, Request, State};
use guichet::reply::notices;
use guichet::reply::Templates;
use guichet::staff::reply::{html_text, Decision, FieldLine, Unclear};
use guichet::staff::StaffReply;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, SinglePart};

const INTAKE: &str = "acces@organisme.example";
const TRUSTED: &str = "mx.organisme.example";
const TOKEN_ADDRESS: &str = "acces+5f0c2a9e7b1d43c8a6e2f90b1c7d3e4a8b6f2d01@organisme.example";

/// The request the approval request is about: values that must never
/// reach a message.
fn request() -> Request {
    let mut fields = std::collections::BTreeMap::new();
    let values = [
        ("employer.last_name", "Gélinas"),
        ("employer.first_name", "Marie-Ève"),
        ("employer.licence", "104382"),
        ("employer.email", "me.gelinas@cliniquestdenis.ca"),
        ("employer.date", "2024-11-07"),
        ("user.last_name", "Thibault"),
        ("user.first_name", "Gabriel |"),
        ("user.birth_date", "1988-03-14"),
        ("user.job_title", "Secrétaire nédicale"),
        ("user.date", "2024-11-12"),
    ];
    for (id, v) in values {
        let confidence = if id == "user.first_name" { 0.71 } else { 0.95 };
        fields.insert(
            id.to_string(),
            FieldReading {
                value: v.to_string(),
                confidence,
            },
        );
    }
    Request {
        id: "DA-2024-000123".into(),
        received_at: Utc.with_ymd_and_hms(2024, 11, 18, 8, 3, 11).unwrap(),
        state: State::Review,
        reasons: vec![Reason::Illegible("user.email".into())],
        service: Some("FACT".into()),
        message_id: "<form@cliniquestdenis.ca>".into(),
        attachment: "formulaire.pdf".into(),
        sender: "me.gelinas@cliniquestdenis.ca".into(),
        employer: Default::default(),
        user: Default::default(),
        fields,
        history: vec![],
    }
}

/// Words of the approval request that must never be a message: values
/// and distinctive phrases of the quote.
const NEVER: [&str; 9] = [
    "Gélinas",
    "104382",
    "cliniquestdenis",
    "Thibault",
    "nédicale",
    "attend votre décision",
    "awaits your decision",
    "Dupont",
    "Service des accès",
];

/// How the quoted approval request follows the staff member's words.
#[derive(Clone, Copy)]
enum Quote {
    /// An attribution line, then every line with `> `.
    Prefixed(&'static str),
    /// A separator or header block, then the request's lines as they are.
    Block(&'static str),
    /// Nothing but a blank line, then the request's lines as they are.
    Bare,
}

/// How the reply travels.
#[derive(Clone, Copy, PartialEq)]
enum Enc {
    EightBit,
    Qp,
    Base64,
    Flowed,
    Win1252,
    /// HTML only, in the given client's container.
    HtmlOnly(Html),
    /// HTML only, quoted-printable.
    HtmlQp(Html),
}

#[derive(Clone, Copy, PartialEq)]
enum Html {
    Gmail,
    OutlookWeb,
    /// Outlook desktop: XML prolog, conditional comments, MsoNormal
    /// paragraphs and a `De : … Envoyé : …` block in a bordered div.
    OutlookDesktop,
    Apple,
    Thunderbird,
    Yahoo,
    /// The request pasted as paragraphs, no container at all.
    Pasted,
}

#[derive(Debug, PartialEq)]
enum Want {
    Approve(Vec<(&'static str, &'static str)>),
    Refuse(&'static str),
    Correct(&'static str),
    Unsure(Unclear),
}

struct Row {
    client: &'static str,
    lang: &'static str,
    enc: Enc,
    top: &'static str,
    quote: Quote,
    want: Want,
}

fn approve() -> Want {
    Want::Approve(vec![])
}

fn rows() -> Vec<Row> {
    use Enc::*;
    use Quote::*;
    use Want::*;
    let row = |client, lang, enc, top, quote, want| Row {
        client,
        lang,
        enc,
        top,
        quote,
        want,
    };
    vec![
        // ---- Gmail, attribution in the client's language -------------------
        row("Gmail", "fr", EightBit, "APPROUVER\n\nAgent Dupont",
            Prefixed("Le lun. 18 nov. 2024 à 09:12, <acces@organisme.example> a écrit :"), approve()),
        row("Gmail", "fr", Qp, "REFUSER La licence 104 ne correspond à personne.\n\nCordialement,\nAgent Dupont",
            Prefixed("Le lun. 18 nov. 2024 à 09:12, <acces@organisme.example> a écrit :"),
            Refuse("La licence 104 ne correspond à personne.")),
        row("Gmail", "en", EightBit, "Refuse: the professional's signature is a typed name.\n\nThanks,\nAgent Dupont",
            Prefixed("On Mon, Nov 18, 2024 at 9:12 AM <acces@organisme.example> wrote:"),
            Refuse("the professional's signature is a typed name.")),
        row("Gmail", "en", Base64, "APPROVE\nUser's e-mail: Gabriel.Thibault@Cliniquestdenis.ca",
            Prefixed("On Mon, Nov 18, 2024 at 9:12 AM <acces@organisme.example> wrote:"),
            Approve(vec![("User's e-mail", "Gabriel.Thibault@Cliniquestdenis.ca")])),
        row("Gmail", "de", EightBit, "REFUSER Formular unvollständig.\n\nMit freundlichen Grüßen\nAgent Dupont",
            Prefixed("Am Mo., 18. Nov. 2024 um 09:12 Uhr schrieb <acces@organisme.example>:"),
            Refuse("Formular unvollständig.")),
        row("Gmail", "it", Qp, "REFUSER modulo incompleto\n\nCordiali saluti\nAgent Dupont",
            Prefixed("Il giorno lun 18 nov 2024 alle ore 09:12 <acces@organisme.example> ha scritto:"),
            Refuse("modulo incompleto")),
        row("Gmail", "es", EightBit, "REFUSER firma ausente\n\nSaludos\nAgent Dupont",
            Prefixed("El lun, 18 nov 2024 a las 9:12, (<acces@organisme.example>) escribió:"),
            Refuse("firma ausente")),
        row("Gmail", "pt", Base64, "REFUSER assinatura ausente\n\nAtenciosamente,\nAgent Dupont",
            Prefixed("Em seg., 18 de nov. de 2024 às 09:12, <acces@organisme.example> escreveu:"),
            Refuse("assinatura ausente")),
        row("Gmail", "nl", EightBit, "REFUSER handtekening ontbreekt\n\nMet vriendelijke groet,\nAgent Dupont",
            Prefixed("Op ma 18 nov 2024 om 09:12 schreef <acces@organisme.example>:"),
            Refuse("handtekening ontbreekt")),
        row("Gmail", "sv", EightBit, "REFUSER underskrift saknas\n\nMed vänlig hälsning\nAgent Dupont",
            Prefixed("Den mån 18 nov. 2024 kl 09:12 skrev <acces@organisme.example>:"),
            Refuse("underskrift saknas")),
        row("Gmail", "da", Qp, "REFUSER underskrift mangler\n\nMed venlig hilsen\nAgent Dupont",
            Prefixed("Den man. 18. nov. 2024 kl. 09.12 skrev <acces@organisme.example>:"),
            Refuse("underskrift mangler")),
        row("Gmail", "no", EightBit, "REFUSER signatur mangler\n\nMed vennlig hilsen\nAgent Dupont",
            Prefixed("man. 18. nov. 2024 kl. 09:12 skrev <acces@organisme.example>:"),
            Refuse("signatur mangler")),
        row("Gmail", "hu", EightBit, "REFUSER hiányzó aláírás\n\nÜdvözlettel:\nAgent Dupont",
            Prefixed("<acces@organisme.example> ezt írta (időpont: 2024. nov. 18., H, 9:12):"),
            Refuse("hiányzó aláírás")),
        row("Gmail", "pl", Qp, "REFUSER brak podpisu\n\nPozdrawiam\nAgent Dupont",
            Prefixed("pon., 18 lis 2024 o 09:12 <acces@organisme.example> napisał(a):"),
            Refuse("brak podpisu")),
        row("Gmail", "ru", Base64, "REFUSER нет подписи\n\nС уважением,\nAgent Dupont",
            Prefixed("пн, 18 нояб. 2024 г. в 09:12, <acces@organisme.example>:"),
            Refuse("нет подписи")),
        row("Gmail", "fi", EightBit, "REFUSER allekirjoitus puuttuu",
            Prefixed("ma 18. marrask. 2024 klo 9.12 <acces@organisme.example> kirjoitti:"),
            Refuse("allekirjoitus puuttuu")),
        row("Gmail (old)", "en", EightBit, "REFUSE wrong service ticked",
            Prefixed("On Mon, Nov 18, 2024 at 9:12 AM, Guichet Acces Organisme Example\n<acces@organisme.example> wrote:"),
            Refuse("wrong service ticked")),
        row("Gmail", "fr", Win1252, "REFUSER l’adresse « réception » est partagée.\n\nBien cordialement\nAgent Dupont",
            Prefixed("Le lun. 18 nov. 2024 à 09:12, <acces@organisme.example> a écrit :"),
            Refuse("l’adresse « réception » est partagée.")),
        row("Gmail", "fr", Qp, "REFUSER mauvaise version du formulaire\n-- \nAgent Dupont\nService des accès\nTél. : 514 555-0100",
            Prefixed("Le lun. 18 nov. 2024 à 09:12, <acces@organisme.example> a écrit :"),
            Refuse("mauvaise version du formulaire")),
        row("Gmail", "fr", EightBit, "REFUSER\n\nA. Dupont\nAgente aux accès",
            Prefixed("Le lun. 18 nov. 2024 à 09:12, <acces@organisme.example> a écrit :"),
            Unsure(Unclear::NoMessage)),
        row("Outlook", "fr", EightBit, "REFUSER signature absente\nM. Dupont, agent\nOrganisme",
            Block("De : acces@organisme.example\nEnvoyé : lundi 18 novembre 2024 09:12\nÀ : agent@organisme.example"),
            Refuse("signature absente")),
        row("Gmail", "fr", EightBit, "REFUSER\n\nAgent Dupont",
            Prefixed("Le lun. 18 nov. 2024 à 09:12, <acces@organisme.example> a écrit :"),
            Unsure(Unclear::NoMessage)),
        row("Gmail", "en", EightBit, "REFUSE\n-- \nAgent Dupont\nService des accès",
            Prefixed("On Mon, Nov 18, 2024 at 9:12 AM <acces@organisme.example> wrote:"),
            Unsure(Unclear::NoMessage)),
        // ---- Other plain-text attributions -----------------------------------
        row("Eudora", "en", EightBit, "REFUSE expired form version",
            Prefixed("At 09:12 AM 11/18/2024, acces@organisme.example wrote:"),
            Refuse("expired form version")),
        row("Zoho", "en", EightBit, "REFUSE the scan is cut off",
            Block("---- On Mon, 18 Nov 2024 09:12:00 -0500 <acces@organisme.example> wrote ----"),
            Refuse("the scan is cut off")),
        row("Thunderbird", "fr", Flowed,
            "REFUSER le numéro de licence est illisible et la numérisation est coupée au bas de la page 1, merci de renvoyer le formulaire en entier.",
            Prefixed("Le 18/11/2024 à 09:12, acces@organisme.example a écrit :"),
            Refuse("le numéro de licence est illisible et la numérisation est coupée au bas de la page 1, merci de renvoyer le formulaire en entier.")),
        row("Thunderbird", "en", Flowed, "APPROVE\n\nUser's first name = Gabriel\nuser.email: gabriel.thibault@cliniquestdenis.ca",
            Prefixed("On 2024-11-18 09:12, acces@organisme.example wrote:"),
            Approve(vec![("User's first name", "Gabriel"), ("user.email", "gabriel.thibault@cliniquestdenis.ca")])),
        row("Thunderbird", "en", EightBit, "REFUSE duplicate of an approved request",
            Block("-------- Original Message --------\nSubject: Demande à approuver\nDate: Mon, 18 Nov 2024 09:12:00 -0500\nFrom: acces@organisme.example\nTo: agent@organisme.example"),
            Refuse("duplicate of an approved request")),
        row("Thunderbird", "fr", EightBit, "REFUSER doublon",
            Block("-------- Message original --------\nSujet : Demande à approuver\nDate : Mon, 18 Nov 2024 09:12:00 -0500\nDe : acces@organisme.example"),
            Refuse("doublon")),
        row("Apple Mail", "fr", Qp, "Refuser : la signature de l’utilisateur est un nom tapé.\n\nAgent Dupont",
            Prefixed("Le 18 nov. 2024 à 09:12, acces@organisme.example a écrit :"),
            Refuse("la signature de l’utilisateur est un nom tapé.")),
        row("iPhone", "en", EightBit, "Approve\n\nSent from my iPhone",
            Prefixed("On Nov 18, 2024, at 09:12, acces@organisme.example wrote:"), approve()),
        row("iPhone", "fr", Qp, "REFUSER mauvais service coché\n\nEnvoyé de mon iPhone",
            Prefixed("Le 18 nov. 2024 à 09:12, acces@organisme.example a écrit :"),
            Refuse("mauvais service coché")),
        row("iPhone", "de", EightBit, "REFUSER falscher Dienst\n\nVon meinem iPhone gesendet",
            Prefixed("Am 18.11.2024 um 09:12 schrieb acces@organisme.example:"),
            Refuse("falscher Dienst")),
        row("iPhone", "es", EightBit, "REFUSER servicio equivocado\n\nEnviado desde mi iPhone",
            Prefixed("El 18 nov 2024, a las 9:12, acces@organisme.example escribió:"),
            Refuse("servicio equivocado")),
        row("iPhone", "it", EightBit, "REFUSER servizio sbagliato\n\nInviato da iPhone",
            Prefixed("Il giorno 18 nov 2024, alle ore 09:12, acces@organisme.example ha scritto:"),
            Refuse("servizio sbagliato")),
        row("iPhone", "nl", EightBit, "REFUSER verkeerde dienst\n\nVerzonden vanaf mijn iPhone",
            Prefixed("Op 18 nov. 2024 om 09:12 heeft acces@organisme.example het volgende geschreven:"),
            Refuse("verkeerde dienst")),
        row("iPhone", "sv", EightBit, "REFUSER fel tjänst\n\nSkickat från min iPhone",
            Prefixed("18 nov. 2024 kl. 09:12 skrev acces@organisme.example:"),
            Refuse("fel tjänst")),
        row("iPhone", "pl", EightBit, "REFUSER zła usługa\n\nWysłane z iPhone'a",
            Prefixed("Wiadomość napisana przez acces@organisme.example w dniu 18.11.2024, o godz. 09:12:"),
            Refuse("zła usługa")),
        row("iPhone", "ru", EightBit, "REFUSER неверная услуга\n\nОтправлено с iPhone",
            Prefixed("18 нояб. 2024 г., в 9:12, acces@organisme.example написал(а):"),
            Refuse("неверная услуга")),
        row("Yahoo", "en", EightBit, "REFUSE user is a minor\n\nSent from Yahoo Mail for iPhone",
            Block("On Monday, November 18, 2024, 09:12:00 AM EST, <acces@organisme.example> wrote:"),
            Refuse("user is a minor")),
        row("Mail.ru", "ru", Base64, "REFUSER нет подписи врача",
            Prefixed("Понедельник, 18 ноября 2024, 9:12 +03:00 от acces@organisme.example:"),
            Refuse("нет подписи врача")),
        // ---- Outlook header blocks in many languages -------------------------
        row("Outlook", "en", EightBit, "REFUSE the licence does not match the register.\n\nRegards,\nAgent Dupont",
            Block("________________________________\nFrom: Guichet <acces@organisme.example>\nSent: Monday, November 18, 2024 9:12 AM\nTo: Agent <agent@organisme.example>\nSubject: Demande à approuver"),
            Refuse("the licence does not match the register.")),
        row("Outlook", "fr", Qp, "REFUSER Le numéro de permis ne correspond pas au registre.\n\nAgent Dupont\nService des accès",
            Block("________________________________\nDe : Guichet <acces@organisme.example>\nEnvoyé : lundi 18 novembre 2024 09:12\nÀ : Agent <agent@organisme.example>\nObjet : Demande à approuver"),
            Refuse("Le numéro de permis ne correspond pas au registre.")),
        row("Outlook", "de", EightBit, "REFUSER Lizenz unbekannt",
            Block("Von: Guichet <acces@organisme.example>\nGesendet: Montag, 18. November 2024 09:12\nAn: Agent <agent@organisme.example>\nBetreff: Demande à approuver"),
            Refuse("Lizenz unbekannt")),
        row("Outlook", "it", Win1252, "REFUSER licenza sconosciuta",
            Block("Da: Guichet <acces@organisme.example>\nInviato: lunedì 18 novembre 2024 09:12\nA: Agent <agent@organisme.example>\nOggetto: Demande à approuver"),
            Refuse("licenza sconosciuta")),
        row("Outlook", "es", EightBit, "REFUSER licencia desconocida",
            Block("De: Guichet <acces@organisme.example>\nEnviado: lunes, 18 de noviembre de 2024 9:12\nPara: Agent <agent@organisme.example>\nAsunto: Demande à approuver"),
            Refuse("licencia desconocida")),
        row("Outlook", "pt", Qp, "REFUSER licença desconhecida",
            Block("De: Guichet <acces@organisme.example>\nEnviado: segunda-feira, 18 de novembro de 2024 09:12\nPara: Agent <agent@organisme.example>\nAssunto: Demande à approuver"),
            Refuse("licença desconhecida")),
        row("Outlook", "nl", EightBit, "REFUSER licentie onbekend",
            Block("Van: Guichet <acces@organisme.example>\nVerzonden: maandag 18 november 2024 09:12\nAan: Agent <agent@organisme.example>\nOnderwerp: Demande à approuver"),
            Refuse("licentie onbekend")),
        row("Outlook", "sv", EightBit, "REFUSER okänd licens",
            Block("Från: Guichet <acces@organisme.example>\nSkickat: den 18 november 2024 09:12\nTill: Agent <agent@organisme.example>\nÄmne: Demande à approuver"),
            Refuse("okänd licens")),
        row("Outlook", "da", EightBit, "REFUSER ukendt licens",
            Block("Fra: Guichet <acces@organisme.example>\nSendt: 18. november 2024 09:12\nTil: Agent <agent@organisme.example>\nEmne: Demande à approuver"),
            Refuse("ukendt licens")),
        row("Outlook", "hu", Base64, "REFUSER ismeretlen engedély",
            Block("Feladó: Guichet <acces@organisme.example>\nElküldve: 2024. november 18. 9:12\nCímzett: Agent <agent@organisme.example>\nTárgy: Demande à approuver"),
            Refuse("ismeretlen engedély")),
        row("Outlook", "pl", EightBit, "REFUSER nieznana licencja",
            Block("Od: Guichet <acces@organisme.example>\nWysłano: poniedziałek, 18 listopada 2024 09:12\nDo: Agent <agent@organisme.example>\nTemat: Demande à approuver"),
            Refuse("nieznana licencja")),
        row("Outlook", "ru", EightBit, "REFUSER неизвестная лицензия",
            Block("От: Guichet <acces@organisme.example>\nОтправлено: 18 ноября 2024 г. 9:12\nКому: Agent <agent@organisme.example>\nТема: Demande à approuver"),
            Refuse("неизвестная лицензия")),
        row("Outlook (one line)", "en", EightBit, "REFUSE bad scan",
            Block("From: Guichet <acces@organisme.example> Sent: Monday, November 18, 2024 9:12 AM To: Agent Subject: Demande"),
            Refuse("bad scan")),
        row("Outlook 2003", "en", EightBit, "APPROVE",
            Block("-----Original Message-----\nFrom: acces@organisme.example\nSent: Monday, November 18, 2024 9:12 AM"), approve()),
        row("Outlook 2003", "fr", EightBit, "CORRIGER Faites signer la page 2 par l'utilisateur.\n\nMerci\nAgent Dupont",
            Block("-----Message d'origine-----\nDe : acces@organisme.example\nEnvoyé : lundi 18 novembre 2024 09:12"),
            Correct("Faites signer la page 2 par l'utilisateur.")),
        row("Outlook 2003", "de", EightBit, "REFUSER Doppelter Antrag",
            Block("-----Ursprüngliche Nachricht-----\nVon: acces@organisme.example"),
            Refuse("Doppelter Antrag")),
        row("Outlook 2003", "it", EightBit, "REFUSER richiesta doppia",
            Block("-----Messaggio originale-----\nDa: acces@organisme.example"),
            Refuse("richiesta doppia")),
        row("Outlook 2003", "es", EightBit, "REFUSER solicitud duplicada",
            Block("-----Mensaje original-----\nDe: acces@organisme.example"),
            Refuse("solicitud duplicada")),
        row("Outlook 2003", "nl", EightBit, "REFUSER dubbele aanvraag",
            Block("-----Oorspronkelijk bericht-----\nVan: acces@organisme.example"),
            Refuse("dubbele aanvraag")),
        row("Outlook 2003", "ru", EightBit, "REFUSER повторная заявка",
            Block("-----Исходное сообщение-----\nОт: acces@organisme.example"),
            Refuse("повторная заявка")),
        row("Windows Mail", "fr", EightBit, "REFUSER formulaire périmé\n\nEnvoyé à partir de Courrier pour Windows",
            Block("De : acces@organisme.example\nEnvoyé le :lundi 18 novembre 2024 09:12\nÀ : agent@organisme.example\nObjet : Demande à approuver"),
            Refuse("formulaire périmé")),
        row("Windows Mail", "en", EightBit, "APPROVE\n\nSent from Mail for Windows",
            Block("From: acces@organisme.example\nSent: Monday, November 18, 2024 9:12 AM\nTo: agent@organisme.example"), approve()),
        row("Zimbra", "fr", Qp, "CORRIGER La date de naissance est dans le futur.",
            Block("----- Mail original -----\nDe: acces@organisme.example\nÀ: agent@organisme.example\nEnvoyé: Lundi 18 Novembre 2024 09:12:00\nObjet: Demande à approuver"),
            Correct("La date de naissance est dans le futur.")),
        row("Zimbra", "en", EightBit, "CORRECT Please have page 2 signed by the user.",
            Block("----- Original Message -----\nFrom: acces@organisme.example\nTo: agent@organisme.example\nSent: Monday, November 18, 2024 9:12:00 AM"),
            Correct("Please have page 2 signed by the user.")),
        // ---- No attribution at all: the request's own text marks the quote ---
        row("Outlook (no header)", "fr", EightBit, "REFUSER adresse partagée", Bare, Refuse("adresse partagée")),
        row("Webmail (no header)", "en", Qp, "CORRECT\nThe user's date of birth is missing.", Bare,
            Correct("The user's date of birth is missing.")),
        row("Webmail (no header)", "fr", EightBit,
            "APPROUVER\nCourriel de l'utilisateur : gabriel.thibault@cliniquestdenis.ca\nPrénom de l'utilisateur : Gabriel",
            Bare,
            Approve(vec![("Courriel de l'utilisateur", "gabriel.thibault@cliniquestdenis.ca"), ("Prénom de l'utilisateur", "Gabriel")])),
        row("Outlook (no header)", "fr", Win1252, "Approuver, merci\n\nCourriel de l’utilisateur = g.thibault@cliniquestdenis.ca", Bare,
            Approve(vec![("Courriel de l’utilisateur", "g.thibault@cliniquestdenis.ca")])),
        // ---- Unclear first lines --------------------------------------------
        row("Gmail", "fr", EightBit, "Je regarde ça demain.\n\nAgent Dupont",
            Prefixed("Le lun. 18 nov. 2024 à 09:12, <acces@organisme.example> a écrit :"),
            Unsure(Unclear::NoVerb)),
        row("Outlook", "fr", EightBit, "APPROUVER sauf le service PAIE",
            Block("De : acces@organisme.example\nEnvoyé : lundi 18 novembre 2024 09:12\nÀ : agent@organisme.example"),
            Unsure(Unclear::Conditional)),
        row("Outlook", "fr", EightBit, "", Block("De : acces@organisme.example\nEnvoyé : lundi\nÀ : agent"),
            Unsure(Unclear::Empty)),
        row("Gmail", "en", EightBit, "CORRECT\n\nThanks,\nAgent Dupont",
            Prefixed("On Mon, Nov 18, 2024 at 9:12 AM <acces@organisme.example> wrote:"),
            Unsure(Unclear::NoMessage)),
        // ---- HTML only ------------------------------------------------------------
        row("Gmail", "fr", HtmlOnly(Html::Gmail), "APPROUVER", Bare, approve()),
        row("Gmail", "en", HtmlQp(Html::Gmail), "REFUSE the user's signature is missing on page 2.", Bare,
            Refuse("the user's signature is missing on page 2.")),
        row("Outlook on the web", "fr", HtmlOnly(Html::OutlookWeb), "Refuser : pièce illisible", Bare,
            Refuse("pièce illisible")),
        row("Outlook", "fr", HtmlOnly(Html::OutlookDesktop), "REFUSER l'adresse de l'utilisateur est celle de la réception.", Bare,
            Refuse("l'adresse de l'utilisateur est celle de la réception.")),
        row("Outlook", "en", HtmlQp(Html::OutlookDesktop), "APPROVE\nUser's e-mail : gabriel.thibault@cliniquestdenis.ca", Bare,
            Approve(vec![("User's e-mail", "gabriel.thibault@cliniquestdenis.ca")])),
        row("Apple Mail", "fr", HtmlOnly(Html::Apple), "CORRIGER Merci de renvoyer la page 1 entière.", Bare,
            Correct("Merci de renvoyer la page 1 entière.")),
        row("Thunderbird", "fr", HtmlOnly(Html::Thunderbird), "REFUSER doublon", Bare, Refuse("doublon")),
        row("Yahoo", "en", HtmlOnly(Html::Yahoo), "REFUSE wrong form", Bare, Refuse("wrong form")),
        row("Webmail", "fr", HtmlOnly(Html::Pasted), "REFUSER formulaire d'une autre clinique", Bare,
            Refuse("formulaire d'une autre clinique")),
        row("Gmail", "fr", HtmlOnly(Html::Gmail), "REFUSER", Bare, Unsure(Unclear::NoMessage)),
    ]
}

/// The approval request the replies quote: its plain text and HTML.
fn approval() -> (String, String) {
    let sent = notices::approval_request(
        &Templates::builtin(),
        &request(),
        &[],
        "agent@organisme.example",
        TOKEN_ADDRESS,
    );
    (sent.text, sent.html)
}

/// The plain text of a reply: the top, the signature the row's top
/// carries, then the quote.
fn plain_body(top: &str, quote: Quote, sent: &str) -> String {
    let quoted = match quote {
        Quote::Prefixed(attribution) => {
            let lines: String = sent.lines().map(|l| format!("> {l}\n")).collect();
            format!("{attribution}\n{lines}")
        }
        Quote::Block(header) => format!("{header}\n\n{sent}"),
        Quote::Bare => sent.to_string(),
    };
    format!("{top}\n\n{quoted}")
}

/// A reply's HTML in a client's container.
fn html_body(top: &str, client: Html, sent_html: &str) -> String {
    let inner = sent_html
        .split("<body>")
        .nth(1)
        .and_then(|b| b.split("</body>").next())
        .unwrap_or_default();
    let own: String = top
        .lines()
        .map(|l| {
            format!(
                "<div>{}</div>\n",
                l.replace('&', "&amp;").replace('<', "&lt;")
            )
        })
        .collect();
    match client {
        Html::Gmail => format!(
            "<div dir=\"ltr\">{own}<br clear=\"all\"><div><div dir=\"ltr\" class=\"gmail_signature\">Agent Dupont<br>Service des accès</div></div></div><br>\
             <div class=\"gmail_quote\"><div dir=\"ltr\" class=\"gmail_attr\">Le lun. 18 nov. 2024 à 09:12, &lt;acces@organisme.example&gt; a écrit&nbsp;:<br></div>\
             <blockquote class=\"gmail_quote\" style=\"margin:0px 0px 0px 0.8ex\">{inner}</blockquote></div>"
        ),
        Html::OutlookWeb => format!(
            "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"><style type=\"text/css\" style=\"display:none;\"> P {{margin-top:0;margin-bottom:0;}} </style></head>\
             <body dir=\"ltr\"><div style=\"font-family: Calibri\">{own}</div><div id=\"x_appendonsend\"></div>\
             <hr style=\"display:inline-block;width:98%\" tabindex=\"-1\"><div id=\"divRplyFwdMsg\" dir=\"ltr\"><font face=\"Calibri\"><b>De :</b> acces@organisme.example<br><b>Envoyé :</b> lundi 18 novembre 2024 09:12</font></div>{inner}</body></html>"
        ),
        Html::OutlookDesktop => format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<html xmlns:v=\"urn:schemas-microsoft-com:vml\" xmlns:o=\"urn:schemas-microsoft-com:office:office\">\
             <head><meta name=Generator content=\"Microsoft Word 15 (filtered medium)\"><!--[if !mso]><style>v\\:* {{behavior:url(#default#VML);}}</style><![endif]-->\
             <style><!-- p.MsoNormal {{margin:0cm;}} --></style><!--[if gte mso 9]><xml><o:shapedefaults v:ext=\"edit\" spidmax=\"1026\" /></xml><![endif]--></head>\
             <body lang=FR-CA link=\"#0563C1\"><div class=WordSection1>{}\
             <p class=MsoNormal><o:p>&nbsp;</o:p></p><p class=MsoNormal>Agent Dupont<o:p></o:p></p>\
             <div><div style='border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm'><p class=MsoNormal><b>De&nbsp;:</b> Guichet &lt;acces@organisme.example&gt; <br><b>Envoyé&nbsp;:</b> 18 novembre 2024 09:12<br><b>À&nbsp;:</b> Agent<br><b>Objet&nbsp;:</b> Demande</p></div></div>\
             {inner}</div></body></html>",
            top.lines()
                .map(|l| format!("<p class=MsoNormal>{}<o:p></o:p></p>", l.replace('&', "&amp;")))
                .collect::<String>()
        ),
        Html::Apple => format!(
            "<html><head><meta http-equiv=\"content-type\" content=\"text/html; charset=utf-8\"></head><body dir=\"auto\">{own}<div><br><blockquote type=\"cite\">Le 18 nov. 2024 à 09:12, acces@organisme.example a écrit&nbsp;:<br><br></blockquote></div><blockquote type=\"cite\">{inner}</blockquote></body></html>"
        ),
        Html::Thunderbird => format!(
            "<!DOCTYPE html><html><head><meta http-equiv=\"content-type\" content=\"text/html; charset=UTF-8\"></head><body><p>{}</p>\
             <div class=\"moz-signature\">-- <br>Agent Dupont</div><div class=\"moz-cite-prefix\">Le 18/11/2024 à 09:12, acces@organisme.example a écrit&nbsp;:<br></div><blockquote type=\"cite\">{inner}</blockquote></body></html>",
            top.replace('\n', "<br>")
        ),
        Html::Yahoo => format!(
            "<html><head></head><body><div class=\"ydp-container\"><div>{own}</div></div><div id=\"yahoo_quoted_123\" class=\"yahoo_quoted\"><div style=\"font-family:Helvetica\">On Monday, November 18, 2024, 09:12:00 AM EST, &lt;acces@organisme.example&gt; wrote:<br><br>{inner}</div></div></body></html>"
        ),
        Html::Pasted => format!("<html><body>{own}<br>{inner}</body></html>"),
    }
}

/// A text part as lettre encodes it: its content headers, a blank line,
/// the body in `encoding` (quoted-printable or base64 here).
fn encoded_part(ctype: &str, encoding: ContentTransferEncoding, body: String) -> Vec<u8> {
    let body = Body::new_with_encoding(body, encoding).expect("encodable");
    SinglePart::builder()
        .header(ContentType::parse(ctype).expect("content type"))
        .body(body)
        .formatted()
}

/// windows-1252 bytes of `text` (the characters French replies use).
fn cp1252(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            '€' => 0x80,
            '…' => 0x85,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '–' => 0x96,
            '—' => 0x97,
            'œ' => 0x9c,
            'Œ' => 0x8c,
            c if (c as u32) < 0x100 => c as u32 as u8,
            _ => b'?',
        })
        .collect()
}

/// RFC 3676: long lines broken after a space, the space kept at the end
/// of the line; quoted lines keep their `>` on every piece.
fn flowed(text: &str) -> String {
    let mut out = String::new();
    for line in text.split('\n') {
        let (prefix, body) = match line.find(|c: char| c != '>') {
            Some(i) if i > 0 => line.split_at(i),
            _ if line.starts_with('>') => (line, ""),
            _ => ("", line),
        };
        let mut current = String::new();
        for word in body.split(' ') {
            if !current.is_empty() && current.len() + word.len() > 60 {
                out.push_str(&format!("{prefix}{current} \r\n"));
                current.clear();
            } else if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(word);
        }
        out.push_str(&format!("{prefix}{current}\r\n"));
    }
    out
}

/// The whole message for a row.
fn message(row: &Row, sent_text: &str, sent_html: &str) -> Vec<u8> {
    let headers = format!(
        "Delivered-To: {TOKEN_ADDRESS}\r\n\
Authentication-Results: mx.organisme.example; dkim=pass header.d=organisme.example; dmarc=pass header.from=organisme.example\r\n\
From: Agent Dupont <agent@organisme.example>\r\n\
To: {TOKEN_ADDRESS}\r\n\
Subject: RE: Demande à approuver\r\n\
Message-ID: <reply@organisme.example>\r\n\
MIME-Version: 1.0\r\n"
    );
    let crlf = |s: &str| s.replace('\n', "\r\n");
    let plain = || plain_body(row.top, row.quote, sent_text);
    let part = |ctype: &str, cte: &str, body: Vec<u8>| {
        let mut part = format!("Content-Type: {ctype}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n")
            .into_bytes();
        part.extend(body);
        part
    };
    const UTF8: &str = "text/plain; charset=utf-8";
    const HTML: &str = "text/html; charset=utf-8";
    let body = match row.enc {
        Enc::EightBit => part(UTF8, "8bit", crlf(&plain()).into_bytes()),
        Enc::Qp => encoded_part(UTF8, ContentTransferEncoding::QuotedPrintable, plain()),
        Enc::Base64 => encoded_part(UTF8, ContentTransferEncoding::Base64, plain()),
        Enc::Flowed => part(
            "text/plain; charset=utf-8; format=flowed",
            "8bit",
            flowed(&plain()).into_bytes(),
        ),
        Enc::Win1252 => part(
            "text/plain; charset=windows-1252",
            "8bit",
            cp1252(&crlf(&plain())),
        ),
        Enc::HtmlOnly(client) => part(
            HTML,
            "8bit",
            crlf(&html_body(row.top, client, sent_html)).into_bytes(),
        ),
        Enc::HtmlQp(client) => encoded_part(
            HTML,
            ContentTransferEncoding::QuotedPrintable,
            html_body(row.top, client, sent_html),
        ),
    };
    let mut raw = headers.into_bytes();
    raw.extend(body);
    raw
}

fn got(decision: &Decision, fields: &[FieldLine], unclear: Option<Unclear>) -> String {
    match decision {
        Decision::Approve => format!(
            "Approve({:?})",
            fields
                .iter()
                .map(|f| (f.field.as_str(), f.value.as_str()))
                .collect::<Vec<_>>()
        ),
        Decision::Refuse(m) => format!("Refuse({m:?})"),
        Decision::Correct(m) => format!("Correct({m:?})"),
        Decision::Unclear => format!("Unclear({:?})", unclear.expect("a reason")),
    }
}

#[test]
fn replies_from_every_client_give_their_decision_fields_and_message() {
    let (sent_text, sent_html) = approval();
    // What guichet compares a reply with: the request's text and its HTML's.
    let known = format!("{sent_text}\n{}", html_text(&sent_html));
    let rows = rows();
    assert!(rows.len() >= 60, "{} rows", rows.len());
    let mut failures = Vec::new();
    let mut without_knowing = 0;
    for row in &rows {
        let raw = message(row, &sent_text, &sent_html);
        let cte = match row.enc {
            Enc::Qp | Enc::HtmlQp(_) => "quoted-printable",
            Enc::Base64 => "base64",
            _ => "8bit",
        };
        let head = String::from_utf8_lossy(&raw).to_ascii_lowercase();
        assert!(
            head.contains(&format!("content-transfer-encoding: {cte}")),
            "{}",
            row.client
        );
        let reply = StaffReply::read(&raw, INTAKE, TRUSTED).expect("a staff reply");
        assert!(reply.auth.is_ok());
        let reading = reply.reading(Some(&known));
        let label = format!(
            "{} / {} / {}",
            row.client,
            row.lang,
            row.top.lines().next().unwrap_or("")
        );
        let want = match &row.want {
            Want::Approve(f) => format!("Approve({f:?})"),
            Want::Refuse(m) => format!("Refuse({m:?})"),
            Want::Correct(m) => format!("Correct({m:?})"),
            Want::Unsure(u) => format!("Unclear({u:?})"),
        };
        let have = got(&reading.decision, &reading.fields, reading.unclear);
        if have != want {
            failures.push(format!("{label}:\n   want {want}\n   got  {have}"));
        }
        if let Decision::Refuse(m) | Decision::Correct(m) = &reading.decision {
            for never in NEVER {
                assert!(!m.contains(never), "{label}: {never:?} in {m:?}");
            }
        }
        let blind = reply.reading(None);
        if got(&blind.decision, &blind.fields, blind.unclear) == want {
            without_knowing += 1;
        }
    }
    eprintln!(
        "{} rows; {} also right without the approval request's text",
        rows.len(),
        without_knowing
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_fixture_table_summary() {
    // client × language × outcome, as the closing note shows it.
    let mut lines: Vec<String> = rows()
        .iter()
        .map(|r| {
            let outcome = match &r.want {
                Want::Approve(f) if f.is_empty() => "approve".to_string(),
                Want::Approve(f) => format!("approve+{} field(s)", f.len()),
                Want::Refuse(_) => "refuse".into(),
                Want::Correct(_) => "correct".into(),
                Want::Unsure(u) => format!("unclear:{u:?}"),
            };
            let enc = match r.enc {
                Enc::EightBit => "8bit",
                Enc::Qp => "qp",
                Enc::Base64 => "base64",
                Enc::Flowed => "flowed",
                Enc::Win1252 => "cp1252",
                Enc::HtmlOnly(_) => "html",
                Enc::HtmlQp(_) => "html+qp",
            };
            format!("| {} | {} | {enc} | {outcome} |", r.client, r.lang)
        })
        .collect();
    lines.dedup();
    eprintln!(
        "| client | language | encoding | outcome |\n|---|---|---|---|\n{}",
        lines.join("\n")
    );
    assert!(lines.len() >= 60);
}
