//! The string catalog: English (default), French and Arabic (right-to-left).
//!
//! Fixed strings live in one [`Strings`] table per language; sentences with numbers are
//! functions on [`Locale`] so each language can place the number and choose the plural itself.

/// A supported UI language.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Locale {
    #[default]
    En,
    Fr,
    Ar,
}

/// Counted nouns: the time units of human durations, and the composer's characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Minute,
    Hour,
    Day,
    Month,
    Character,
}

impl Locale {
    /// Picks the language from a tag like `fr`, `fr-CA`, `AR_eg`; unknown tags give English.
    pub fn parse(tag: &str) -> Self {
        let primary = tag.trim().split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
        match primary.as_str() {
            "fr" => Self::Fr,
            "ar" => Self::Ar,
            _ => Self::En,
        }
    }

    /// BCP 47 tag for `lang` and `Intl`.
    pub fn tag(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Fr => "fr",
            Self::Ar => "ar",
        }
    }

    /// Text direction for the messenger root.
    pub fn dir(self) -> &'static str {
        match self {
            Self::Ar => "rtl",
            _ => "ltr",
        }
    }

    /// The fixed strings of this language.
    pub fn strings(self) -> &'static Strings {
        match self {
            Self::En => &EN,
            Self::Fr => &FR,
            Self::Ar => &AR,
        }
    }

    /// "30 minutes", "1 hour", "3 days", "2 months".
    pub fn count(self, amount: u64, unit: Unit) -> String {
        let one = amount == 1;
        let word = match (self, unit) {
            (Self::Ar, _) => return arabic_count(amount, unit),
            (Self::En, Unit::Minute) => if one { "minute" } else { "minutes" },
            (Self::En, Unit::Hour) => if one { "hour" } else { "hours" },
            (Self::En, Unit::Day) => if one { "day" } else { "days" },
            (Self::En, Unit::Month) => if one { "month" } else { "months" },
            (Self::En, Unit::Character) => if one { "character" } else { "characters" },
            (Self::Fr, Unit::Minute) => if one { "minute" } else { "minutes" },
            (Self::Fr, Unit::Hour) => if one { "heure" } else { "heures" },
            (Self::Fr, Unit::Day) => if one { "jour" } else { "jours" },
            (Self::Fr, Unit::Month) => "mois",
            (Self::Fr, Unit::Character) => if one { "caractère" } else { "caractères" },
        };
        format!("{amount} {word}")
    }

    /// A TTL in seconds in the largest unit that states it exactly (`5400` → "90 minutes",
    /// `7200` → "2 hours"); below a minute it rounds up to "1 minute".
    pub fn duration(self, seconds: u64) -> String {
        const MINUTE: u64 = 60;
        const HOUR: u64 = 60 * MINUTE;
        const DAY: u64 = 24 * HOUR;
        const MONTH: u64 = 30 * DAY;
        for (size, unit) in [(MONTH, Unit::Month), (DAY, Unit::Day), (HOUR, Unit::Hour)] {
            if seconds >= size && seconds.is_multiple_of(size) {
                return self.count(seconds / size, unit);
            }
        }
        if seconds >= MONTH {
            return self.count(seconds / MONTH, Unit::Month);
        }
        if seconds >= DAY {
            return self.count(seconds / DAY, Unit::Day);
        }
        self.count(seconds.div_ceil(MINUTE).max(1), Unit::Minute)
    }

    /// The welcome's expiry sentence for an inactivity TTL.
    pub fn ends_after(self, ttl_seconds: u64) -> String {
        let duration = self.duration(ttl_seconds);
        match self {
            Self::En => format!("This chat ends after {duration} without activity."),
            Self::Fr => format!("Cette conversation se termine après {duration} d'inactivité."),
            Self::Ar => format!("تنتهي هذه المحادثة بعد {duration} من عدم النشاط."),
        }
    }

    /// The expiry banner: whole minutes left, rounded up.
    pub fn ends_in(self, remaining_ms: u64) -> String {
        let minutes = remaining_ms.div_ceil(60_000).max(1);
        let duration = self.count(minutes, Unit::Minute);
        match self {
            Self::En => format!("This chat ends in {duration} unless you send a message."),
            Self::Fr => format!("Cette conversation se termine dans {duration} sans nouveau message."),
            Self::Ar => format!("تنتهي هذه المحادثة خلال {duration} ما لم ترسل رسالة."),
        }
    }

    /// Reconnecting status with the next attempt.
    pub fn reconnecting_in(self, seconds: u64) -> String {
        match self {
            Self::En => format!("Reconnecting in {seconds} s…"),
            Self::Fr => format!("Reconnexion dans {seconds} s…"),
            Self::Ar => format!("إعادة الاتصال خلال {seconds} ث…"),
        }
    }

    /// Composer counter.
    pub fn chars_left(self, left: usize) -> String {
        let count = self.count(left as u64, Unit::Character);
        match self {
            Self::En => format!("{count} left"),
            // "restant" agrees with the noun: 1 caractère restant, 5 caractères restants.
            Self::Fr => format!("{count} {}", if left == 1 { "restant" } else { "restants" }),
            Self::Ar => format!("متبقٍ {count}"),
        }
    }

    /// Composer counter past the limit (sending is disabled until it is back under).
    pub fn chars_over(self, over: usize) -> String {
        let count = self.count(over as u64, Unit::Character);
        match self {
            Self::En => format!("{count} too many"),
            Self::Fr => format!("{count} en trop"),
            Self::Ar => format!("{count} فوق الحد"),
        }
    }

    /// Launcher label with unread messages.
    pub fn unread(self, count: usize) -> String {
        match self {
            Self::En => format!("{count} unread"),
            Self::Fr => format!("{count} non lu(s)"),
            Self::Ar => format!("{count} غير مقروءة"),
        }
    }

    /// The upload is too big.
    pub fn file_too_big(self, max_kb: u64) -> String {
        let size = if max_kb >= 1000 { format!("{} MB", max_kb / 1000) } else { format!("{max_kb} KB") };
        match self {
            Self::En => format!("This file is too large (limit {size})."),
            Self::Fr => format!("Ce fichier est trop volumineux (limite {size})."),
            Self::Ar => format!("هذا الملف كبير جدًا (الحد {size})."),
        }
    }

    /// Upload progress.
    pub fn uploading(self, name: &str, percent: u32) -> String {
        match self {
            Self::En => format!("Uploading {name}… {percent}%"),
            Self::Fr => format!("Envoi de {name}… {percent} %"),
            Self::Ar => format!("جارٍ رفع {name}… {percent}٪"),
        }
    }

    /// A server error with its code.
    pub fn error_code(self, code: u32) -> String {
        match self {
            Self::En => format!("Something went wrong (code {code})."),
            Self::Fr => format!("Une erreur s'est produite (code {code})."),
            Self::Ar => format!("حدث خطأ (الرمز {code})."),
        }
    }
}

/// Fixed UI strings of one language.
#[derive(Debug)]
pub struct Strings {
    pub title: &'static str,
    pub open_chat: &'static str,
    pub close_chat: &'static str,
    pub welcome_default: &'static str,
    pub connecting: &'static str,
    pub connected: &'static str,
    pub reconnecting: &'static str,
    pub offline: &'static str,
    pub read_only: &'static str,
    /// The button that jumps to messages that arrived while the reader was scrolled up.
    pub new_messages: &'static str,
    pub expired: &'static str,
    pub error: &'static str,
    pub retry: &'static str,
    pub start_new: &'static str,
    pub composer_label: &'static str,
    pub composer_placeholder: &'static str,
    pub composer_read_only: &'static str,
    pub send: &'static str,
    pub attach: &'static str,
    pub emoji: &'static str,
    pub sending: &'static str,
    pub queued: &'static str,
    pub sent: &'static str,
    pub failed: &'static str,
    pub retry_message: &'static str,
    pub agent_typing: &'static str,
    pub agent: &'static str,
    pub bot: &'static str,
    pub you: &'static str,
    pub unsupported: &'static str,
    pub notice_started: &'static str,
    pub notice_agent_left: &'static str,
    pub notice_ended: &'static str,
    pub notice_signed_in: &'static str,
    pub notice_cleared: &'static str,
    pub notice_expired: &'static str,
    pub storage_unavailable: &'static str,
    pub storage_corrupt: &'static str,
    pub load_older: &'static str,
    pub loading_older: &'static str,
    pub history_failed: &'static str,
    pub message_too_long: &'static str,
    pub rate_limited: &'static str,
    pub forbidden: &'static str,
    pub session_not_found: &'static str,
    pub file_type_blocked: &'static str,
    pub file_empty: &'static str,
    pub uploads_disabled: &'static str,
    pub upload_failed: &'static str,
    pub attachment_link: &'static str,
    pub enlarge_image: &'static str,
    pub close_image: &'static str,
    pub closed_elsewhere: &'static str,
    pub drop_here: &'static str,
    pub dismiss: &'static str,
    pub sign_in_again: &'static str,
    pub notice_other_devices: &'static str,
    pub sign_in: &'static str,
    pub sign_out: &'static str,
    pub signing_in: &'static str,
    pub signed_out: &'static str,
    pub signed_in_elsewhere: &'static str,
    pub sign_in_failed: &'static str,
    pub date_picker_title: &'static str,
    pub date_picker_answered: &'static str,
    pub date_picker_none_left: &'static str,
    pub date_slot_passed: &'static str,
    pub clear_conversation: &'static str,
    pub clear_confirm: &'static str,
    pub clear_confirm_yes: &'static str,
    pub cancel: &'static str,
    pub clear_unavailable: &'static str,
    pub emoji_smileys: &'static str,
    pub emoji_people: &'static str,
    pub emoji_nature: &'static str,
    pub emoji_food: &'static str,
    pub emoji_activities: &'static str,
    pub emoji_objects: &'static str,
    pub emoji_symbols: &'static str,
}

pub static EN: Strings = Strings {
    title: "Chat with us",
    open_chat: "Open chat",
    close_chat: "Close chat",
    welcome_default: "Hello! How can we help you today?",
    connecting: "Connecting…",
    connected: "Online",
    reconnecting: "Reconnecting…",
    offline: "You are offline. Messages will be sent when the connection is back.",
    read_only: "This conversation has ended.",
    new_messages: "New messages",
    expired: "This chat session has expired.",
    error: "The chat is unavailable right now.",
    retry: "Retry",
    start_new: "Start new conversation",
    composer_label: "Message",
    composer_placeholder: "Type a message…",
    composer_read_only: "This conversation is read-only",
    send: "Send",
    attach: "Attach a file",
    emoji: "Insert emoji",
    sending: "Sending…",
    queued: "Waiting for connection",
    sent: "Sent",
    failed: "Not sent",
    retry_message: "Retry sending",
    agent_typing: "Agent is typing…",
    agent: "Agent",
    bot: "Assistant",
    you: "You",
    unsupported: "This message type is not supported.",
    notice_started: "Conversation started",
    notice_agent_left: "The agent left the conversation",
    notice_ended: "The conversation has ended",
    notice_signed_in: "You are signed in",
    notice_cleared: "The conversation was cleared",
    notice_expired: "Your chat session expired",
    storage_unavailable: "This browser cannot save the chat (storage is blocked or full): it will not survive a page reload.",
    storage_corrupt: "Saved chat data was unreadable and has been reset.",
    load_older: "Load earlier messages",
    loading_older: "Loading earlier messages…",
    history_failed: "Earlier messages could not be loaded.",
    message_too_long: "This message is too long.",
    rate_limited: "You are sending messages too fast; retrying shortly.",
    forbidden: "The chat service refused the request.",
    session_not_found: "This chat session no longer exists.",
    file_type_blocked: "This type of file cannot be sent.",
    file_empty: "This file is empty.",
    uploads_disabled: "File uploads are not available.",
    upload_failed: "The file could not be uploaded.",
    attachment_link: "Download",
    enlarge_image: "Enlarge image",
    close_image: "Close image",
    closed_elsewhere: "This chat was closed by the server.",
    drop_here: "Drop a file to send it",
    dismiss: "Dismiss",
    sign_in_again: "Please sign in again to continue this conversation.",
    notice_other_devices: "You were signed out of this chat on your other devices.",
    sign_in: "Sign in",
    sign_out: "Sign out",
    signing_in: "Signing in…",
    signed_out: "You are signed out.",
    signed_in_elsewhere: "You signed in on another device; this chat continues there.",
    sign_in_failed: "Signing in did not work. Please try again.",
    date_picker_title: "Choose a time",
    date_picker_answered: "Answered",
    date_picker_none_left: "None of these times is available any more.",
    date_slot_passed: "That time has passed. Please choose another one.",
    clear_conversation: "Clear conversation",
    clear_confirm: "Clear this conversation? Its messages will be removed from this chat.",
    clear_confirm_yes: "Clear",
    cancel: "Cancel",
    clear_unavailable: "Clearing the conversation is not available.",
    emoji_smileys: "Smileys",
    emoji_people: "People",
    emoji_nature: "Nature",
    emoji_food: "Food",
    emoji_activities: "Activities",
    emoji_objects: "Objects",
    emoji_symbols: "Symbols",
};

pub static FR: Strings = Strings {
    title: "Discutons",
    open_chat: "Ouvrir la conversation",
    close_chat: "Fermer la conversation",
    welcome_default: "Bonjour ! Comment pouvons-nous vous aider ?",
    connecting: "Connexion…",
    connected: "En ligne",
    reconnecting: "Reconnexion…",
    offline: "Vous êtes hors ligne. Les messages partiront au retour de la connexion.",
    read_only: "Cette conversation est terminée.",
    new_messages: "Nouveaux messages",
    expired: "Cette session de discussion a expiré.",
    error: "La discussion est indisponible pour le moment.",
    retry: "Réessayer",
    start_new: "Nouvelle conversation",
    composer_label: "Message",
    composer_placeholder: "Écrivez un message…",
    composer_read_only: "Cette conversation est en lecture seule",
    send: "Envoyer",
    attach: "Joindre un fichier",
    emoji: "Insérer un emoji",
    sending: "Envoi…",
    queued: "En attente de connexion",
    sent: "Envoyé",
    failed: "Non envoyé",
    retry_message: "Renvoyer",
    agent_typing: "Un conseiller écrit…",
    agent: "Conseiller",
    bot: "Assistant",
    you: "Vous",
    unsupported: "Ce type de message n'est pas pris en charge.",
    notice_started: "Conversation commencée",
    notice_agent_left: "Le conseiller a quitté la conversation",
    notice_ended: "La conversation est terminée",
    notice_signed_in: "Vous êtes connecté",
    notice_cleared: "La conversation a été effacée",
    notice_expired: "Votre session de discussion a expiré",
    storage_unavailable: "Ce navigateur ne peut pas enregistrer la discussion (stockage bloqué ou plein) : elle ne survivra pas à un rechargement.",
    storage_corrupt: "Les données enregistrées étaient illisibles et ont été réinitialisées.",
    load_older: "Afficher les messages précédents",
    loading_older: "Chargement des messages précédents…",
    history_failed: "Impossible de charger les messages précédents.",
    message_too_long: "Ce message est trop long.",
    rate_limited: "Vous envoyez trop vite ; nouvel essai sous peu.",
    forbidden: "Le service a refusé la demande.",
    session_not_found: "Cette session n'existe plus.",
    file_type_blocked: "Ce type de fichier ne peut pas être envoyé.",
    file_empty: "Ce fichier est vide.",
    uploads_disabled: "L'envoi de fichiers n'est pas disponible.",
    upload_failed: "Le fichier n'a pas pu être envoyé.",
    attachment_link: "Télécharger",
    enlarge_image: "Agrandir l'image",
    close_image: "Fermer l'image",
    closed_elsewhere: "Cette discussion a été fermée par le serveur.",
    drop_here: "Déposez un fichier pour l'envoyer",
    dismiss: "Fermer",
    sign_in_again: "Veuillez vous reconnecter pour poursuivre cette conversation.",
    notice_other_devices: "Vous avez été déconnecté de cette discussion sur vos autres appareils.",
    sign_in: "Se connecter",
    sign_out: "Se déconnecter",
    signing_in: "Connexion…",
    signed_out: "Vous êtes déconnecté.",
    signed_in_elsewhere: "Vous vous êtes connecté sur un autre appareil ; la discussion continue là-bas.",
    sign_in_failed: "La connexion a échoué. Veuillez réessayer.",
    date_picker_title: "Choisissez un créneau",
    date_picker_answered: "Répondu",
    date_picker_none_left: "Aucun de ces créneaux n’est encore disponible.",
    date_slot_passed: "Ce créneau est passé. Veuillez en choisir un autre.",
    clear_conversation: "Effacer la conversation",
    clear_confirm: "Effacer cette conversation ? Ses messages seront retirés de cette discussion.",
    clear_confirm_yes: "Effacer",
    cancel: "Annuler",
    clear_unavailable: "L'effacement de la conversation n'est pas disponible.",
    emoji_smileys: "Smileys",
    emoji_people: "Personnes",
    emoji_nature: "Nature",
    emoji_food: "Nourriture",
    emoji_activities: "Activités",
    emoji_objects: "Objets",
    emoji_symbols: "Symboles",
};

pub static AR: Strings = Strings {
    title: "تحدث معنا",
    open_chat: "فتح المحادثة",
    close_chat: "إغلاق المحادثة",
    welcome_default: "مرحبًا! كيف يمكننا مساعدتك اليوم؟",
    connecting: "جارٍ الاتصال…",
    connected: "متصل",
    reconnecting: "جارٍ إعادة الاتصال…",
    offline: "أنت غير متصل. ستُرسل الرسائل عند عودة الاتصال.",
    read_only: "انتهت هذه المحادثة.",
    new_messages: "رسائل جديدة",
    expired: "انتهت صلاحية جلسة المحادثة.",
    error: "المحادثة غير متاحة حاليًا.",
    retry: "إعادة المحاولة",
    start_new: "بدء محادثة جديدة",
    composer_label: "رسالة",
    composer_placeholder: "اكتب رسالة…",
    composer_read_only: "هذه المحادثة للقراءة فقط",
    send: "إرسال",
    attach: "إرفاق ملف",
    emoji: "إدراج رمز تعبيري",
    sending: "جارٍ الإرسال…",
    queued: "بانتظار الاتصال",
    sent: "أُرسلت",
    failed: "لم تُرسل",
    retry_message: "إعادة الإرسال",
    agent_typing: "الموظف يكتب…",
    agent: "موظف",
    bot: "مساعد",
    you: "أنت",
    unsupported: "نوع الرسالة هذا غير مدعوم.",
    notice_started: "بدأت المحادثة",
    notice_agent_left: "غادر الموظف المحادثة",
    notice_ended: "انتهت المحادثة",
    notice_signed_in: "تم تسجيل دخولك",
    notice_cleared: "تم مسح المحادثة",
    notice_expired: "انتهت صلاحية جلسة المحادثة",
    storage_unavailable: "لا يستطيع هذا المتصفح حفظ المحادثة (التخزين محظور أو ممتلئ): لن تبقى بعد إعادة تحميل الصفحة.",
    storage_corrupt: "تعذرت قراءة البيانات المحفوظة وتمت إعادة تعيينها.",
    load_older: "عرض الرسائل السابقة",
    loading_older: "جارٍ تحميل الرسائل السابقة…",
    history_failed: "تعذر تحميل الرسائل السابقة.",
    message_too_long: "هذه الرسالة طويلة جدًا.",
    rate_limited: "أنت ترسل بسرعة كبيرة؛ ستتم إعادة المحاولة قريبًا.",
    forbidden: "رفضت خدمة المحادثة الطلب.",
    session_not_found: "جلسة المحادثة هذه لم تعد موجودة.",
    file_type_blocked: "لا يمكن إرسال هذا النوع من الملفات.",
    file_empty: "هذا الملف فارغ.",
    uploads_disabled: "رفع الملفات غير متاح.",
    upload_failed: "تعذر رفع الملف.",
    attachment_link: "تنزيل",
    enlarge_image: "تكبير الصورة",
    close_image: "إغلاق الصورة",
    closed_elsewhere: "أغلق الخادم هذه المحادثة.",
    drop_here: "أفلت ملفًا لإرساله",
    dismiss: "إغلاق",
    sign_in_again: "يرجى تسجيل الدخول مرة أخرى لمتابعة هذه المحادثة.",
    notice_other_devices: "تم تسجيل خروجك من هذه المحادثة على أجهزتك الأخرى.",
    sign_in: "تسجيل الدخول",
    sign_out: "تسجيل الخروج",
    signing_in: "جارٍ تسجيل الدخول…",
    signed_out: "لقد سجّلت الخروج.",
    signed_in_elsewhere: "سجّلت الدخول على جهاز آخر؛ تستمر المحادثة هناك.",
    sign_in_failed: "تعذّر تسجيل الدخول. يرجى المحاولة مرة أخرى.",
    date_picker_title: "اختر موعدًا",
    date_picker_answered: "تمت الإجابة",
    date_picker_none_left: "لم يعد أي من هذه المواعيد متاحًا.",
    date_slot_passed: "لقد فات هذا الموعد. يرجى اختيار موعد آخر.",
    clear_conversation: "مسح المحادثة",
    clear_confirm: "هل تريد مسح هذه المحادثة؟ ستُزال رسائلها من هذه الدردشة.",
    clear_confirm_yes: "مسح",
    cancel: "إلغاء",
    clear_unavailable: "مسح المحادثة غير متاح.",
    emoji_smileys: "وجوه",
    emoji_people: "أشخاص",
    emoji_nature: "طبيعة",
    emoji_food: "طعام",
    emoji_activities: "أنشطة",
    emoji_objects: "أشياء",
    emoji_symbols: "رموز",
};

/// Arabic counted nouns follow the CLDR plural categories, and every sentence puts them after a
/// preposition: one and two are the noun alone ("يوم واحد", dual "يومين"), 3–10 take the plural
/// ("3 أيام"), 11–99 the singular accusative ("30 دقيقة", "15 يومًا"), the rest the singular.
fn arabic_count(amount: u64, unit: Unit) -> String {
    // (one, two, few, many, other)
    let (one, two, few, many, other) = match unit {
        Unit::Minute => ("دقيقة واحدة", "دقيقتين", "دقائق", "دقيقة", "دقيقة"),
        Unit::Hour => ("ساعة واحدة", "ساعتين", "ساعات", "ساعة", "ساعة"),
        Unit::Day => ("يوم واحد", "يومين", "أيام", "يومًا", "يوم"),
        Unit::Month => ("شهر واحد", "شهرين", "أشهر", "شهرًا", "شهر"),
        Unit::Character => ("حرف واحد", "حرفين", "أحرف", "حرفًا", "حرف"),
    };
    match (amount, amount % 100) {
        (1, _) => one.to_string(),
        (2, _) => two.to_string(),
        (_, 3..=10) => format!("{amount} {few}"),
        (_, 11..=99) => format!("{amount} {many}"),
        _ => format!("{amount} {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_use_the_largest_exact_unit() {
        let en = Locale::En;
        assert_eq!(en.duration(1800), "30 minutes");
        assert_eq!(en.duration(60), "1 minute");
        assert_eq!(en.duration(5400), "90 minutes");
        assert_eq!(en.duration(7200), "2 hours");
        assert_eq!(en.duration(86_400), "1 day");
        assert_eq!(en.duration(3 * 86_400), "3 days");
        assert_eq!(en.duration(60 * 86_400), "2 months");
        assert_eq!(en.duration(10), "1 minute");
        assert_eq!(Locale::Fr.duration(7200), "2 heures");
    }

    #[test]
    fn arabic_counts_follow_its_plural_rules() {
        let ar = Locale::Ar;
        assert_eq!(ar.duration(60), "دقيقة واحدة");
        assert_eq!(ar.duration(120), "دقيقتين");
        assert_eq!(ar.duration(5 * 60), "5 دقائق");
        assert_eq!(ar.duration(1800), "30 دقيقة");
        assert_eq!(ar.duration(86_400), "يوم واحد");
        assert_eq!(ar.duration(15 * 86_400), "15 يومًا");
        assert_eq!(ar.duration(2 * 3600), "ساعتين");
        assert_eq!(ar.count(100, Unit::Minute), "100 دقيقة");
        assert_eq!(ar.count(103, Unit::Day), "103 أيام");
        assert_eq!(ar.ends_after(1800), "تنتهي هذه المحادثة بعد 30 دقيقة من عدم النشاط.");
        assert_eq!(ar.chars_left(5), "متبقٍ 5 أحرف");
        assert_eq!(Locale::En.chars_left(1), "1 character left");
        assert_eq!(Locale::Fr.chars_over(4), "4 caractères en trop");
    }

    #[test]
    fn sentences() {
        assert_eq!(Locale::En.ends_after(1800), "This chat ends after 30 minutes without activity.");
        assert_eq!(Locale::En.ends_in(240_000), "This chat ends in 4 minutes unless you send a message.");
        assert_eq!(Locale::En.ends_in(1), "This chat ends in 1 minute unless you send a message.");
        assert!(Locale::Fr.ends_after(3600).contains("1 heure"));
    }

    #[test]
    fn locale_tags() {
        assert_eq!(Locale::parse("fr-CA"), Locale::Fr);
        assert_eq!(Locale::parse("AR_eg"), Locale::Ar);
        assert_eq!(Locale::parse("de"), Locale::En);
        assert_eq!(Locale::parse(""), Locale::En);
        assert_eq!(Locale::Ar.dir(), "rtl");
        assert_eq!(Locale::Fr.dir(), "ltr");
    }
}
