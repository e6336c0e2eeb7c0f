"""The sentences of the privacy statement, per language (pure data).

Kept apart from the assembly in `gateway.privacystatement` so the logic stays short and a
translator finds every sentence in one place. `{name}` fields are filled from the config;
legal references follow each language's usage (AVG/Telecommunicatiewet for Dutch, GDPR and
the ePrivacy Directive for English).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal, get_args

StatementLanguage = Literal["nl", "en"]
STATEMENT_LANGUAGES: Final[tuple[StatementLanguage, ...]] = get_args(StatementLanguage)
Units = tuple[str, str]  # singular, plural
GeoDetail = Literal["none", "country", "region", "city"]


@dataclass(frozen=True, slots=True)
class Phrases:
    """One language's sentences; `{name}` fields are filled from the config."""

    heading: str
    intro: str
    controller_heading: str
    controller: str
    cookies_heading: str
    cookies_intro: str
    category_cookies: str
    category_hosts: str
    category_empty: str
    consent_cookie_item: str
    glob_note: str
    unknown_blocked: str
    seen_heading: str
    seen_intro: str
    seen_header: tuple[str, str, str, str]
    seen_unknown: str
    consent_cookie_heading: str
    consent_cookie: str
    snippet_cookie: str
    shared_cookie: str  # with `consent.cookie_domain`
    proof_heading: str
    proof: str
    gpc: str
    regions: str  # with `[[regions]]` that do not all ask first
    analytics_heading: str
    analytics: str
    location: Mapping[GeoDetail, tuple[str, str]]  # in the list, after "to determine"
    analytics_ip: str
    analytics_ip_geo: str
    small_groups: str
    time_on_page: str
    search_terms: str  # with `[[sites]].search_params`: {params}
    dnt: str
    analytics_off: str
    ip_heading: str
    ip: str
    ip_places: tuple[str, str]  # consent log; with the access log
    ipv4_kept: Mapping[int, str]
    access_heading: str
    access: str
    abuse_heading: str
    abuse: str
    table_heading: str
    table_header: tuple[str, str, str]
    row_necessary: tuple[str, str, str]
    row_consented: tuple[str, str, str]
    row_consent_cookie: tuple[str, str, str]
    row_proof: tuple[str, str, str]
    row_analytics: tuple[str, str, str]
    row_access: tuple[str, str, str]
    row_abuse: tuple[str, str, str]
    rights_heading: str
    withdraw_where_button: str
    withdraw_where_page: str
    right_withdraw: str
    right_access: str
    right_erase: str
    right_request: str
    request_access_log: str
    right_complaint: str
    days: Units
    hours: Units
    minutes: Units


NL: Final = Phrases(
    heading="## Privacy en cookies",
    intro="Deze tekst hoort bij versie {revision} van ons cookie- en privacybeleid. Wijzigen "
    "wij dat beleid, dan vragen wij u opnieuw om toestemming.",
    controller_heading="### Wie is verantwoordelijk",
    controller="Verwerkingsverantwoordelijke in de zin van de Algemene verordening "
    "gegevensbescherming (AVG) is {controller}. Vragen en verzoeken over uw privacy kunt u "
    "sturen naar {contact}.",
    cookies_heading="### Cookies",
    cookies_intro="Noodzakelijke cookies plaatsen wij altijd; daarvoor is geen toestemming "
    "nodig. Voor alle andere cookies vragen wij eerst uw toestemming in de cookiebanner. "
    "Weigeren is even makkelijk als accepteren, en niets staat vooraf aangevinkt.",
    category_cookies="Cookies: {names}.",
    category_hosts="Pas na uw toestemming laden wij scripts en ingesloten inhoud van {hosts}; "
    "die partijen kunnen dan ook eigen cookies plaatsen.",
    category_empty="In deze categorie plaatsen wij op dit moment geen cookies.",
    consent_cookie_item="`{name}` (uw cookiekeuze, zie hieronder)",
    glob_note="Een `*` in een cookienaam staat voor willekeurige tekens.",
    unknown_blocked="Cookies die hier niet worden genoemd, laten wij pas toe als u alle "
    "categorieën accepteert.",
    seen_heading="### Cookies die wij op deze website hebben gezien",
    seen_intro="Deze cookies hebben wij op deze website zien plaatsen, door onze server of "
    "door scripts op onze pagina's. Een `*` staat voor willekeurige tekens. Het doel en de "
    "bewaartermijn komen, waar bekend, uit de Open Cookie Database (in het Engels).",
    seen_header=("Cookie", "Categorie", "Doel", "Bewaartermijn"),
    seen_unknown="nog niet ingedeeld (geblokkeerd tot u alles accepteert)",
    consent_cookie_heading="### Uw cookiekeuze",
    consent_cookie="Uw keuze bewaren wij in de cookie `{name}` (via een beveiligde "
    "verbinding: `{host_name}`). Daarin staan een willekeurig toestemmings-ID, de categorieën "
    "die u hebt toegestaan, de versie van ons beleid en het tijdstip van uw keuze, digitaal "
    "ondertekend zodat niemand ze kan vervalsen. De cookie bevat geen IP-adres, is niet "
    "leesbaar voor scripts op de pagina en blijft {lifetime} geldig; daarna vragen wij "
    "opnieuw om uw keuze. Zonder deze cookie kunnen wij uw keuze niet respecteren; hij is "
    "daarom noodzakelijk.",
    snippet_cookie="Op pagina's die onze cookiebanner als los script laden, heet deze cookie "
    "`{name}`; daar schrijft het script hem en kan het hem ook lezen.",
    proof_heading="### Bewijs van uw toestemming",
    proof="Wij moeten kunnen aantonen dat u toestemming hebt gegeven (artikel 7 lid 1 AVG). "
    "Daarom leggen wij elke keuze vast die u maakt (alles accepteren, alles weigeren, zelf "
    "kiezen, intrekken of uw gegevens laten wissen), met: het tijdstip, uw toestemmings-ID, "
    "wat u toestond en weigerde, de versie van ons beleid, een controlegetal (hash) van de "
    "precieze bannertekst die u zag, de taal, uw ingekorte IP-adres, de browser- en "
    "besturingssysteemfamilie (zonder versienummers), de pagina (zonder zoekparameters) en of "
    "uw browser een Global Privacy Control-signaal meestuurde, welke regel voor uw regio gold "
    "(eerst vragen, melden of geen banner) en op welke website (hostnaam) u koos. Elke "
    "vastlegging bevat het controlegetal van de vorige, zodat achteraf wijzigen opvalt.",
    shared_cookie="De cookie geldt voor al onze websites onder `{domain}`: een keuze of "
    "intrekking op de ene geldt ook op de andere. Elke website houdt haar eigen versie van "
    "het beleid; wijzigt die, dan vragen wij alleen daar opnieuw.",
    regions="Uit welk land u ons bezoekt, leiden wij af uit uw volledige IP-adres, alleen in "
    "het geheugen (het land wordt niet bewaard). In de Europese Economische Ruimte, het "
    "Verenigd Koninkrijk en Zwitserland, en als het land onbekend is, vragen wij altijd eerst "
    "uw toestemming. Elders kan een melding gelden: dan staan de genoemde categorieën aan tot "
    "u ze weigert (met één klik op ‘Alles weigeren’ of later via de cookie-instellingen); dat "
    "leggen wij vast als afgeleide keuze. Een keuze die u zelf maakte, blijft gelden waar u "
    "ook bent.",
    gpc="Stuurt uw browser een Global Privacy Control-signaal terwijl u nog niet hebt gekozen, "
    "dan weigeren wij marketing namens u; een keuze die u daarna zelf maakt, gaat voor.",
    analytics_heading="### Websitestatistieken",
    analytics="Alleen als u toestemming geeft voor ‘{category}’, houden wij met eigen "
    "software bij hoe de website wordt gebruikt; deze gegevens gaan niet naar derden. Per "
    "bezochte pagina of handeling leggen wij vast: het tijdstip, de pagina (zonder "
    "zoekparameters), alleen de domeinnaam van de website waarvandaan u kwam, "
    "campagnegegevens (utm-parameters) uit de link, {location}de browser- en "
    "besturingssysteemfamilie en het soort apparaat (zonder versienummers), de schermbreedte "
    "en een pseudoniem. Dat pseudoniem wordt met een geheime sleutel uit uw toestemmings-ID "
    "berekend en is zonder die sleutel niet te herleiden.",
    location={
        "none": ("", ""),
        "country": ("het land, ", "uw land"),
        "region": ("het land en de provincie of regio, ", "uw land en regio"),
        "city": ("het land, de regio en de plaats, ", "uw land, regio en plaats"),
    },
    analytics_ip="Uw IP-adres slaan wij daarbij niet op.",
    analytics_ip_geo="Uw IP-adres slaan wij daarbij niet op; wij gebruiken het alleen even in "
    "het geheugen om {where} te bepalen.",
    small_groups="In onze overzichten tonen wij een pagina, land of andere waarde pas apart "
    "als die minstens {count} bezoekers heeft, zodat niemand eruit te lichten is.",
    time_on_page="Als u een pagina verlaat, legt uw browser dat tijdstip ook vast, zodat wij "
    "de gemiddelde tijd op een pagina kunnen berekenen.",
    search_terms="Zoekt u op deze website, dan bewaren wij ook de zoekterm (de waarde van "
    "{params} in het adres van de pagina) in kleine letters en ingekort tot 100 tekens, voor "
    "een overzicht van waarnaar gezocht wordt; de rest van de zoekparameters bewaren wij niet.",
    dnt="Meldt uw browser ‘Do Not Track’, dan meten wij niets, ook niet met toestemming.",
    analytics_off="Wij houden zelf geen statistieken bij over het gebruik van deze website.",
    ip_heading="### IP-adressen",
    ip="Waar wij een IP-adres bewaren ({places}), korten wij het eerst in: van een IPv4-adres "
    "bewaren wij alleen {ipv4_kept} ({example} wordt {truncated}), van een IPv6-adres alleen "
    "de eerste {ipv6_bits} bits. Uw volledige IP-adres komt nooit in een bestand of database "
    "terecht.",
    ip_places=("in het bewijs van uw toestemming",
               "in het bewijs van uw toestemming en in het toegangslogboek"),
    ipv4_kept={
        3: "de eerste drie van de vier getallen",
        2: "de eerste twee van de vier getallen",
        1: "het eerste van de vier getallen",
    },
    access_heading="### Beveiliging: toegangslogboek",
    access="Om storingen en misbruik te kunnen opsporen, houden wij van elk verzoek aan de "
    "website bij: het tijdstip, de methode, de pagina (zonder zoekparameters), het resultaat "
    "(statuscode), hoe lang het duurde, uw ingekorte IP-adres en de browserfamilie. Daarvoor "
    "is geen toestemming nodig, want wij lezen niets van uw apparaat en plaatsen er niets op. "
    "Wij kunnen deze regels niet aan u als bezoeker koppelen.",
    abuse_heading="### Bescherming tegen misbruik",
    abuse="Om overbelasting en vervuiling van onze registraties te voorkomen, tellen wij per "
    "bezoeker hoeveel keuzes (ten hoogste {consent_limit} per minuut) en statistiekmeldingen "
    "(ten hoogste {collect_limit} per minuut) er binnenkomen. Wij herkennen een bezoeker "
    "daarbij niet aan het IP-adres, maar aan een hash ervan die met een geheime sleutel wordt "
    "berekend. Elke dag komt er een nieuwe sleutel, en elke sleutel wordt na uiterlijk "
    "{key_hours} uur gewist; daarna kan niemand een hash nog aan een adres koppelen. Wie "
    "herhaaldelijk te veel stuurt, wordt tijdelijk geblokkeerd, ten hoogste {block}. Ook "
    "dan bewaren wij alleen de hash, nooit het IP-adres.",
    table_heading="### Grondslagen en bewaartermijnen",
    table_header=("Gegevens", "Grondslag", "Bewaartermijn"),
    row_necessary=(
        "Noodzakelijke cookies",
        "strikt noodzakelijk voor de website, dus geen toestemming nodig (art. 11.7a lid 3 "
        "Telecommunicatiewet)",
        "zolang nodig voor de werking van de website",
    ),
    row_consented=(
        "Cookies en scripts waarvoor u toestemming gaf",
        "toestemming (art. 6 lid 1 onder a AVG)",
        "zolang uw toestemming geldt; trekt u die in, dan verwijderen wij onze eigen cookies "
        "van die categorieën uit uw browser",
    ),
    row_consent_cookie=(
        "Uw cookiekeuze (cookie `{name}`)",
        "wettelijke verplichting: uw keuze respecteren en kunnen aantonen (art. 6 lid 1 "
        "onder c en art. 7 lid 1 AVG)",
        "{lifetime}",
    ),
    row_proof=(
        "Bewijs van toestemming",
        "wettelijke verplichting (art. 6 lid 1 onder c en art. 7 lid 1 AVG)",
        "{days} nadat de toestemming is geëindigd (ingetrokken, vervangen door een nieuwe "
        "keuze of na {lifetime} verlopen), nooit zolang die geldt; daarna blijven alleen een "
        "volgnummer en controlegetallen over",
    ),
    row_analytics=(
        "Websitestatistieken",
        "toestemming (art. 6 lid 1 onder a AVG)",
        "{days} na vastlegging, of eerder als u ze laat wissen",
    ),
    row_access=(
        "Toegangslogboek",
        "gerechtvaardigd belang: beveiliging (art. 6 lid 1 onder f AVG)",
        "{days} na vastlegging",
    ),
    row_abuse=(
        "Hashes tegen misbruik",
        "gerechtvaardigd belang: beveiliging (art. 6 lid 1 onder f AVG)",
        "sleutels uiterlijk {key_hours} uur, een blokkade ten hoogste {block}",
    ),
    rights_heading="### Uw rechten",
    withdraw_where_button="met de knop ‘{button}’ op de website of op de "
    "[voorkeurenpagina]({preferences})",
    withdraw_where_page="op de [voorkeurenpagina]({preferences})",
    right_withdraw="**Toestemming intrekken of wijzigen** kan op elk moment, even makkelijk als "
    "u die gaf: {where}. Intrekken geldt vanaf dat moment; wat wij daarvoor met uw "
    "toestemming deden, blijft rechtmatig.",
    right_access="**Inzage en dataportabiliteit**: op [{me}]({me}) downloadt u alle gegevens "
    "die wij onder uw toestemmings-ID bewaren, als machineleesbaar bestand (JSON).",
    right_erase="**Verwijderen**: met de knop op de [voorkeurenpagina]({preferences}) (of een "
    "`DELETE`-verzoek naar `{me}`) wissen wij uw statistiekgegevens, trekken wij uw "
    "toestemming in en verwijderen wij uw cookiekeuze, zodat de banner opnieuw vraagt. Het "
    "bewijs van uw eerdere keuzes bewaren wij tot het einde van de bewaartermijn hierboven, "
    "omdat de wet ons verplicht uw toestemming te kunnen aantonen (art. 17 lid 3 onder b en e "
    "AVG).",
    right_request="**Verzoek sturen**: u kunt ook om inzage of verwijdering vragen via "
    "{contact}. Vermeld daarbij uw toestemmings-ID; dat staat op de voorkeurenpagina. Wij "
    "bewaren geen naam en geen volledig IP-adres, dus zonder dat ID kunnen wij uw gegevens "
    "niet vinden.",
    request_access_log=" Regels in het toegangslogboek kunnen wij niet aan een persoon "
    "koppelen (art. 11 AVG).",
    right_complaint="**Klacht**: bent u het niet eens met hoe wij met uw gegevens omgaan, dan "
    "kunt u een klacht indienen bij de Autoriteit Persoonsgegevens "
    "(<https://autoriteitpersoonsgegevens.nl>). Wij horen het graag eerst van u.",
    days=("dag", "dagen"),
    hours=("uur", "uur"),
    minutes=("minuut", "minuten"),
)

EN: Final = Phrases(
    heading="## Privacy and cookies",
    intro="This text belongs to version {revision} of our cookie and privacy policy. If we "
    "change that policy, we ask for your consent again.",
    controller_heading="### Who is responsible",
    controller="The controller within the meaning of the General Data Protection Regulation "
    "(GDPR) is {controller}. Please send questions and requests about your privacy to "
    "{contact}.",
    cookies_heading="### Cookies",
    cookies_intro="We always set necessary cookies; they need no consent. For every other "
    "cookie we first ask for your consent in the cookie banner. Rejecting is as easy as "
    "accepting, and nothing is ticked in advance.",
    category_cookies="Cookies: {names}.",
    category_hosts="Only after your consent do we load scripts and embedded content from "
    "{hosts}; these parties may then set cookies of their own.",
    category_empty="We currently set no cookies in this category.",
    consent_cookie_item="`{name}` (your cookie choice, see below)",
    glob_note="A `*` in a cookie name stands for any characters.",
    unknown_blocked="Cookies not named here are let through only if you accept all "
    "categories.",
    seen_heading="### Cookies we have seen on this website",
    seen_intro="We have seen these cookies being set on this website, by our server or by "
    "scripts on our pages. A `*` stands for any characters. Purpose and retention come, "
    "where known, from the Open Cookie Database.",
    seen_header=("Cookie", "Category", "Purpose", "Retention"),
    seen_unknown="not yet classified (blocked until you accept everything)",
    consent_cookie_heading="### Your cookie choice",
    consent_cookie="We keep your choice in the cookie `{name}` (over a secure connection: "
    "`{host_name}`). It holds a random consent ID, the categories you allowed, the version of "
    "our policy and the time of your choice, digitally signed so that nobody can forge them. "
    "The cookie holds no IP address, cannot be read by scripts on the page and is valid for "
    "{lifetime}; after that we ask for your choice again. Without it we could not respect "
    "your choice, so it is necessary.",
    snippet_cookie="On pages that load our cookie banner as a separate script, this cookie is "
    "called `{name}`; there the script writes it and can also read it.",
    proof_heading="### Proof of your consent",
    proof="We must be able to demonstrate that you gave consent (Article 7(1) GDPR). We "
    "therefore record every choice you make (accept all, reject all, choose for yourself, "
    "withdraw, or have your data erased) with: the time, your consent ID, what you allowed "
    "and refused, the version of our policy, a checksum (hash) of the exact banner text you "
    "saw, the language, your shortened IP address, the browser and operating-system family "
    "(without version numbers), the page (without query parameters) and whether your browser "
    "sent a Global Privacy Control signal, which rule applied to your region (ask first, "
    "inform, or no banner) and on which website (host name) you chose. Each record holds the "
    "checksum of the one before, so any later change shows.",
    shared_cookie="The cookie applies to all our websites under `{domain}`: a choice or "
    "withdrawal on one applies on the others too. Each website keeps its own version of the "
    "policy; when it changes, we ask again there only.",
    regions="We derive the country you visit us from from your full IP address, in memory "
    "only (the country is not stored). In the European Economic Area, the United Kingdom and "
    "Switzerland, and when the country is unknown, we always ask for your consent first. "
    "Elsewhere a notice may apply: the categories it names are on until you refuse them (in "
    "one click on ‘Reject all’, or later in the cookie settings); we record that as an "
    "implied choice. A choice you made yourself stands wherever you are.",
    gpc="If your browser sends a Global Privacy Control signal before you have chosen, we "
    "refuse marketing on your behalf; a choice you make yourself afterwards takes precedence.",
    analytics_heading="### Website statistics",
    analytics="Only if you consent to ‘{category}’ do we keep track, with our own software, "
    "of how the website is used; this data does not go to third parties. For each page you "
    "visit or action you take we record: the time, the page (without query parameters), only "
    "the domain name of the website you came from, campaign details (utm parameters) from the "
    "link, {location}the browser and operating-system family and the type of device (without "
    "version numbers), the screen width and a pseudonym. The pseudonym is computed from your "
    "consent ID with a secret key and cannot be traced back without that key.",
    location={
        "none": ("", ""),
        "country": ("the country, ", "your country"),
        "region": ("the country and region, ", "your country and region"),
        "city": ("the country, region and city, ", "your country, region and city"),
    },
    analytics_ip="We do not store your IP address with it.",
    analytics_ip_geo="We do not store your IP address with it; we only use it briefly in "
    "memory to determine {where}.",
    small_groups="Our reports show a page, country or other value separately only once it "
    "has at least {count} visitors, so that nobody can be singled out.",
    time_on_page="When you leave a page, your browser records that moment too, so that we can "
    "work out the average time spent on a page.",
    search_terms="If you search this website, we also keep the search term (the value of "
    "{params} in the page's address), in lower case and cut to 100 characters, for an overview "
    "of what is searched for; we keep no other query parameters.",
    dnt="If your browser sends ‘Do Not Track’, we measure nothing, even with consent.",
    analytics_off="We do not keep statistics of our own about how this website is used.",
    ip_heading="### IP addresses",
    ip="Wherever we keep an IP address ({places}), we shorten it first: of an IPv4 address we "
    "keep only {ipv4_kept} ({example} becomes {truncated}), of an IPv6 address only the first "
    "{ipv6_bits} bits. Your full IP address never ends up in a file or database.",
    ip_places=("in the proof of your consent",
               "in the proof of your consent and in the access log"),
    ipv4_kept={
        3: "the first three of its four numbers",
        2: "the first two of its four numbers",
        1: "the first of its four numbers",
    },
    access_heading="### Security: access log",
    access="To detect faults and abuse we log every request to the website: the time, the "
    "method, the page (without query parameters), the result (status code), how long it "
    "took, your shortened IP address and the browser family. This needs no consent, since we "
    "neither read anything from your device nor store anything on it. We cannot link these "
    "entries to you as a visitor.",
    abuse_heading="### Protection against abuse",
    abuse="To prevent overload and pollution of our records, we count per visitor how many "
    "choices (at most {consent_limit} a minute) and statistics messages (at most "
    "{collect_limit} a minute) arrive. We do not recognise a visitor by IP address but by a "
    "hash of it computed with a secret key. There is a new key every day, and each key is "
    "deleted after {key_hours} hours at most; after that nobody can link a hash to an "
    "address. Anyone who repeatedly exceeds the limit is blocked for a while, at most "
    "{block}. Even then we keep only the hash, never the IP address.",
    table_heading="### Legal bases and retention periods",
    table_header=("Data", "Legal basis", "Retention period"),
    row_necessary=(
        "Necessary cookies",
        "strictly necessary for the website, so no consent needed (Art. 5(3) ePrivacy "
        "Directive)",
        "as long as needed for the website to work",
    ),
    row_consented=(
        "Cookies and scripts you consented to",
        "consent (Art. 6(1)(a) GDPR)",
        "while your consent lasts; if you withdraw it, we remove our own cookies of those "
        "categories from your browser",
    ),
    row_consent_cookie=(
        "Your cookie choice (cookie `{name}`)",
        "legal obligation: respecting your choice and being able to demonstrate it "
        "(Art. 6(1)(c) and Art. 7(1) GDPR)",
        "{lifetime}",
    ),
    row_proof=(
        "Proof of consent",
        "legal obligation (Art. 6(1)(c) and Art. 7(1) GDPR)",
        "{days} after the consent ended (withdrawn, replaced by a new choice or expired after "
        "{lifetime}), never while it is in force; after that only a sequence number and "
        "checksums remain",
    ),
    row_analytics=(
        "Website statistics",
        "consent (Art. 6(1)(a) GDPR)",
        "{days} after recording, or sooner if you have them erased",
    ),
    row_access=(
        "Access log",
        "legitimate interest: security (Art. 6(1)(f) GDPR)",
        "{days} after recording",
    ),
    row_abuse=(
        "Hashes against abuse",
        "legitimate interest: security (Art. 6(1)(f) GDPR)",
        "keys at most {key_hours} hours, a block at most {block}",
    ),
    rights_heading="### Your rights",
    withdraw_where_button="with the ‘{button}’ button on the website or on the "
    "[preferences page]({preferences})",
    withdraw_where_page="on the [preferences page]({preferences})",
    right_withdraw="**Withdraw or change your consent** at any time, as easily as you gave "
    "it: {where}. A withdrawal takes effect from then on; what we did with your consent "
    "before remains lawful.",
    right_access="**Access and portability**: at [{me}]({me}) you download all data we keep "
    "under your consent ID, as a machine-readable file (JSON).",
    right_erase="**Erasure**: the button on the [preferences page]({preferences}) (or a "
    "`DELETE` request to `{me}`) erases your statistics data, withdraws your consent and "
    "deletes your cookie choice, so the banner asks again. We keep the proof of your earlier "
    "choices until the end of the retention period above, because the law requires us to be "
    "able to demonstrate your consent (Art. 17(3)(b) and (e) GDPR).",
    right_request="**Send a request**: you can also ask for access or erasure via {contact}. "
    "Please state your consent ID; it is shown on the preferences page. We keep no name and "
    "no full IP address, so without that ID we cannot find your data.",
    request_access_log=" We cannot link access-log entries to a person (Art. 11 GDPR).",
    right_complaint="**Complaint**: if you disagree with how we handle your data, you can "
    "lodge a complaint with your data protection authority (in the EU, the supervisory "
    "authority of the country where you live or work). We would like to hear from you first.",
    days=("day", "days"),
    hours=("hour", "hours"),
    minutes=("minute", "minutes"),
)

PHRASES: Final[Mapping[StatementLanguage, Phrases]] = {"nl": NL, "en": EN}
