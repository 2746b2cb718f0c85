"""Phrase banks for the synthetic support history, written for voicelake.

Slots in braces ({product}, {version}, {name}, {order}, {days}) are filled by the
generator. Each emotion has several registers (short, long, casual, formal) so that the
generated text is varied enough to be a fair test of ingestion and scoring.
"""

from __future__ import annotations

PRODUCTS: dict[str, dict[str, object]] = {
    "Nimbus Router": {"versions": ["3.1", "3.2"], "kind": "device"},
    "Atlas App": {"versions": ["5.0", "5.1"], "kind": "app"},
    "Pulse Thermostat": {"versions": ["2.0", "2.1"], "kind": "device"},
    "Orbit Cloud": {"versions": ["2026.1", "2026.2"], "kind": "service"},
}

QUEUES = ("billing", "technical", "accounts", "shipping")

# topic -> (queue, issue statements)
TOPICS: dict[str, tuple[str, list[str]]] = {
    "double_charge": ("billing", [
        "I was charged twice for my {product} subscription this month",
        "there are two identical charges on my card for order {order}",
        "my bank statement shows a duplicate payment for {product}",
        "you billed me two times for the same plan",
        "why do I see {product} twice on my credit card statement?",
        "I got charged again for order {order} even though I paid last week",
    ]),
    "refund": ("billing", [
        "I returned my {product} {days} days ago and still have no refund",
        "where is my refund for order {order}?",
        "I cancelled within the trial period but was still charged",
        "you promised a refund for the {product} {days} days ago, nothing arrived",
        "the refund for order {order} says processed but my bank has nothing",
    ]),
    "invoice": ("billing", [
        "the invoice for {product} shows the wrong company address",
        "I need a corrected invoice for order {order}",
        "can I get a VAT invoice for my {product} purchase",
        "the invoice for order {order} has the wrong tax amount",
    ]),
    "delivery": ("shipping", [
        "my {product} was supposed to arrive {days} days ago",
        "the tracking for order {order} hasn't moved in a week",
        "the package arrived damaged, the box was crushed",
        "I received the wrong item instead of the {product}",
        "the courier says order {order} was delivered but nothing is here",
    ]),
    "account_access": ("accounts", [
        "I can't log into my account anymore",
        "the verification code never arrives on my phone",
        "my account got locked after the app update",
        "I need to change the email on my account",
        "the password reset email for {product} never shows up",
    ]),
    "setup": ("technical", [
        "I can't get the {product} set up, the app doesn't find it",
        "how do I connect the {product} to my wifi?",
        "the setup wizard for {product} freezes at step 3",
        "pairing the {product} with my phone keeps failing",
        "the {product} light just blinks orange and setup never finishes",
    ]),
    "performance": ("technical", [
        "the {product} has become really slow lately",
        "{product} takes forever to load",
        "the {product} keeps restarting on its own",
        "everything on the {product} lags since {version}",
    ]),
    "crash": ("technical", [
        "{product} {version} crashes every time I open settings",
        "the app closes as soon as I tap sync",
        "{product} freezes and then crashes after a few minutes",
        "{product} {version} crashes when I upload a photo",
    ]),
    "sync": ("technical", [
        "my data doesn't sync between phone and laptop",
        "changes I make in {product} disappear after a sync",
        "sync has been stuck at 0% since yesterday",
        "{product} shows old data on my tablet, it never syncs",
    ]),
    "temperature": ("technical", [
        "the {product} shows 24 degrees but the room is freezing",
        "my heating schedule on the {product} is ignored",
        "the {product} turns the heating on in the middle of the night",
        "the {product} reads 3 degrees higher than my other thermometer",
    ]),
    "api_errors": ("technical", [
        "our integration gets random 500 errors from {product}",
        "the {product} API rate limits us way below our plan",
        "webhooks from {product} arrive hours late",
        "the {product} API returns timeouts for half our requests",
    ]),
    "feature_request": ("technical", [
        "it would be great if {product} had a dark mode",
        "please add an export to CSV in {product}",
        "could you add support for multiple users on the {product}?",
        "I'd love a way to schedule reports in {product}",
        "suggestion: let us pick the update time for the {product}",
    ]),
    "praise": ("accounts", [
        "just wanted to say the {product} works great",
        "the new {product} {version} is so much faster",
        "your team fixed my issue yesterday and everything works",
        "the {product} setup took two minutes, well done",
    ]),
    # scenario topics
    "outage": ("technical", [
        "{product} is down, nothing loads",
        "we get 503 errors from {product} since this morning",
        "is there an outage? {product} dashboard won't open",
        "all our services on {product} stopped responding",
        "{product} has been unreachable for an hour now",
    ]),
    "wifi_drops_after_update": ("technical", [
        "since the {version} update my {product} drops wifi every few minutes",
        "after updating to {version} the {product} keeps disconnecting",
        "the {product} firmware {version} broke my internet, it drops all the time",
        "wifi on the {product} has been unstable since {version}",
    ]),
    "login_loop": ("accounts", [
        "after resetting my password {product} sends me back to the login page in a loop",
        "I'm stuck in a login loop on {product} after the password reset",
        "password reset worked but {product} keeps asking me to log in again and again",
    ]),
    # a churning customer's last conversation (never drawn as an ordinary topic)
    "cancellation": ("accounts", [
        "please cancel my {product} subscription",
        "I want to close my account, {product} is not worth it for me anymore",
        "I'd like to end my contract for the {product}",
        "how do I cancel? I'm done with {product}",
        "please stop my {product} plan at the end of this month",
    ]),
}

PRODUCT_TOPICS: dict[str, list[str]] = {
    "Nimbus Router": ["setup", "performance", "delivery", "double_charge", "refund",
                      "feature_request", "praise", "invoice"],
    "Atlas App": ["crash", "sync", "account_access", "double_charge", "feature_request",
                  "praise", "performance", "refund"],
    "Pulse Thermostat": ["temperature", "setup", "delivery", "refund", "feature_request",
                         "praise", "invoice"],
    "Orbit Cloud": ["api_errors", "performance", "invoice", "account_access",
                    "feature_request", "praise", "double_charge"],
}

NEGATIVE = ("anger", "frustration", "disappointment", "anxiety", "confusion")
POSITIVE = ("gratitude", "joy")

# the emotions a customer opens with, per topic family
TOPIC_EMOTIONS: dict[str, dict[str, float]] = {
    "default": {"neutral": 0.34, "frustration": 0.18, "confusion": 0.14, "anxiety": 0.08,
                "disappointment": 0.1, "anger": 0.08, "gratitude": 0.04, "joy": 0.04},
    "feature_request": {"neutral": 0.55, "joy": 0.15, "gratitude": 0.1, "disappointment": 0.1,
                        "frustration": 0.1},
    "praise": {"joy": 0.55, "gratitude": 0.4, "neutral": 0.05},
    "outage": {"anger": 0.35, "frustration": 0.3, "anxiety": 0.25, "confusion": 0.1},
    "wifi_drops_after_update": {"frustration": 0.4, "disappointment": 0.3, "anger": 0.2,
                                "confusion": 0.1},
    "login_loop": {"frustration": 0.4, "confusion": 0.35, "anger": 0.15, "anxiety": 0.1},
    "cancellation": {"disappointment": 0.35, "neutral": 0.3, "frustration": 0.2, "anger": 0.15},
}

EMOTION_LINES: dict[str, list[str]] = {
    "anger": [
        "This is absolutely unacceptable.", "I am furious.", "Worst service I have ever had.",
        "Fix this NOW.", "I'm done with you people.", "Are you kidding me?!",
        "This is a joke and I want my money back.", "How is this still not fixed??",
        "I will be reporting this to consumer protection.", "Unbelievable. Just unbelievable.",
        "Great, another outage. Just what I needed today.", "Oh wonderful, broken again. Thanks a lot.",
        "I am not happy. Not happy at all.", "Never buying anything from you again.",
    ],
    "frustration": [
        "This is the third time I'm contacting you about this.",
        "I've been waiting for days and nothing happens.", "Honestly getting really tired of this.",
        "I already tried everything your FAQ says.", "Why does this keep happening?",
        "I've restarted it like ten times already.", "Still not working. Again.",
        "Every time I call I get a different answer.", "Ugh, this is so annoying.",
        "Love how I have to explain this again. Really efficient.",
        "I like the {product}, but this keeps driving me up the wall.",
        "Not working, not fixed, not acceptable.",
    ],
    "disappointment": [
        "I expected better from you.", "Pretty let down, to be honest.",
        "I'm regretting this purchase.", "This used to be a great product.",
        "Sad that it came to this.", "Not what I was promised at all.",
        "I recommended you to my friends, now I feel stupid.",
        "Not happy with this, to be honest.", "Not exactly thrilled with {product} right now.",
        "The product is nice but the support has been a real letdown.",
        "I had high hopes for {version}. Oh well.",
    ],
    "anxiety": [
        "I'm worried I'll lose all my data.", "My business depends on this, please hurry.",
        "I'm really nervous about this charge.", "Please help, I'm panicking a bit.",
        "What if my account was hacked?", "I have a deadline tomorrow and I'm scared this won't work.",
        "I can't afford to lose this money.",
        "Not sure I can trust this anymore, is my data safe?",
    ],
    "confusion": [
        "I don't understand what I'm supposed to do.", "The instructions make no sense to me.",
        "Am I missing something?", "Which button do I press?",
        "Your help page says one thing and the app says another.",
        "I'm confused about what this fee is for.", "Not sure if this is a bug or me.",
        "I don't get why it does this, it isn't obvious at all.",
    ],
    "gratitude": [
        "Thank you so much for your help!", "Really appreciate the quick reply.",
        "Thanks a lot, you saved my day.", "Many thanks for sorting this out.",
        "Thank you for your patience with me.", "Cheers, much appreciated!",
        "Not a single complaint about your team, thanks.", "You folks are always so helpful, thank you.",
    ],
    "joy": [
        "Works perfectly now, I'm thrilled!", "Love it!", "This made my week.",
        "So happy with how this turned out.", "Awesome, everything is great now.",
        "Brilliant, exactly what I wanted.",
        "Can't complain at all, it's been great.", "Honestly the best {product} I've owned.",
    ],
    "neutral": [
        "", "", "", "Order number is {order}.", "I'm using version {version}.",
        "I bought it {days} days ago.", "Let me know what you need from me.",
    ],
}

EMOJI: dict[str, list[str]] = {
    "anger": ["😡", "🤬", "👎"], "frustration": ["😤", "🙄", "😩"],
    "disappointment": ["😞", "😔", "💔"], "anxiety": ["😟", "😰", "🙏"],
    "confusion": ["🤔", "😕", "❓"], "gratitude": ["🙏", "😊", "👍"],
    "joy": ["😀", "🎉", "❤️", "😍"], "neutral": [""],
}

OPENERS = ["Hi,", "Hello,", "Hey", "Hi there,", "Good morning,", "Hello team,", "", "", ""]

CLOSINGS_RESTORED = [
    "Thanks, that fixed it!", "Great, it works now. Thank you!", "Perfect, thanks for the help.",
    "Oh that did the trick, thank you so much 🙏", "Ok it's working again, appreciate it.",
    "Wonderful, thank you for being so patient.",
]
CLOSINGS_UNRESOLVED = [
    "Still doesn't work. I'm cancelling.", "This didn't help at all.",
    "So you can't do anything? Great.", "Whatever, I'll take my business elsewhere.",
    "Nope, same problem. Really disappointed.", "That's not an answer to my question.",
]
CUSTOMER_FOLLOWUPS = [
    "I tried that, it didn't change anything.", "Ok, done. What now?",
    "It says error {order} now.", "Here is a screenshot of the problem.",
    "Yes, I'm on version {version}.", "I did the reset, still the same.",
    "How long will this take?", "Can you call me back instead?",
]

AGENT_GREETINGS = ["Hi {name},", "Hello {name},", "Hi {name}, thanks for reaching out.",
                   "Dear {name},", "Hello,"]
AGENT_EMPATHY = [
    "I'm so sorry for the trouble this has caused you.",
    "I completely understand how frustrating this must be.",
    "I can imagine how stressful this is, and I'm here to help.",
    "I'm really sorry you've had to contact us more than once.",
    "Thank you for your patience, I know this has been a hassle.",
    "That sounds really annoying, let's get it sorted for you.",
    "I hear you, and I'm sorry we let you down.",
    "I understand how much you rely on this, and I'm sorry it's not working.",
    "You shouldn't have to deal with this, I'm sorry.",
]
AGENT_NEUTRAL = [
    "Thanks for the details.", "Let me check that for you.", "I've looked into your account.",
    "Thanks for getting in touch.",
]
AGENT_CURT = [
    "As stated before, please follow the instructions.", "That is expected behaviour.",
    "Please read the help center article first.", "We can't do anything else here.",
    "Please don't open multiple tickets for the same issue.",
]
AGENT_ACTIONS: dict[str, list[str]] = {
    "double_charge": ["I've refunded the duplicate charge, it will show in 3-5 business days.",
                      "I can see the second payment and I've reversed it."],
    "refund": ["Your refund has been approved and processed today.",
               "I've escalated the refund to our finance team."],
    "invoice": ["I've sent a corrected invoice to the email on file.",
                "You can download the updated invoice from your account page."],
    "delivery": ["I've contacted the carrier and a replacement is on its way.",
                 "The parcel is delayed at the depot, it should arrive within 2 days."],
    "account_access": ["I've unlocked your account, please try logging in again.",
                       "I've sent a new verification link to your email."],
    "setup": ["Please hold the reset button for 10 seconds and start the setup again.",
              "Make sure your phone is on the 2.4 GHz network during setup."],
    "performance": ["Please update to the latest version and clear the cache.",
                    "I've reset your device remotely, it should be faster now."],
    "crash": ["Our developers know about this crash, a fix ships this week.",
              "Please reinstall the app; your data is safe in the cloud."],
    "sync": ["I've forced a full resync from our side.",
             "Please sign out and back in to restart the sync."],
    "temperature": ["Please recalibrate the sensor under Settings > Sensor.",
                    "I've pushed a schedule fix to your thermostat."],
    "api_errors": ["We've raised your rate limit and are investigating the errors.",
                   "Our engineers found the faulty node and replaced it."],
    "feature_request": ["Thanks for the suggestion, I've passed it to our product team.",
                        "Great idea, I've added your vote to that feature request."],
    "praise": ["Thank you for the kind words, I'll share them with the team!",
               "That's great to hear, enjoy it!"],
    "outage": ["We are aware of the outage and our engineers are working on it.",
               "Service is being restored, thanks for bearing with us."],
    "wifi_drops_after_update": [
        "We're aware of the wifi issue in {version}; please roll back under Settings > Firmware.",
        "A fix for {version} is in testing; meanwhile disabling band steering helps.",
    ],
    "login_loop": ["Please clear the app data and log in again; we're fixing the loop.",
                   "I've reset your session on our side, please try once more."],
    # the confirmation that conf `churn.cancellation_pattern` recognises
    "cancellation": ["I've cancelled your subscription as requested; you won't be charged again.",
                     "Your account has been closed as you asked; your data is deleted in 30 days.",
                     "Done: your {product} plan is cancelled from today. We're sorry to see you go.",
                     "Your contract has been terminated as requested, effective today."],
}
AGENT_CLOSINGS = ["Is there anything else I can help with?", "Have a great day!",
                  "Let me know if it happens again.", "Kind regards", "Best,", ""]
BOT_LINES = ["Hi! I'm Ava, the virtual assistant. How can I help?",
             "Let me connect you with an agent.",
             "I found an article that may help: 'Troubleshooting basics'."]

CALL_FILLERS = ["uh", "um", "so", "yeah", "okay so", "right"]

REVIEW_TITLES: dict[int, list[str]] = {
    1: ["Terrible", "Do not buy", "Broken after a week", "Avoid"],
    2: ["Disappointing", "Not great", "Expected more"],
    3: ["It's okay", "Average", "Mixed feelings"],
    4: ["Pretty good", "Solid product", "Happy overall"],
    5: ["Excellent!", "Love it", "Best purchase this year", "Perfect"],
}

PASSIVE_PRICING = [
    "It's fine but honestly too expensive for what it does.",
    "Good product, but the price went up again.",
    "Works ok. The subscription price is hard to justify.",
    "Decent, would be a 10 if it were cheaper.",
    "The monthly fee is too high compared to competitors.",
]
PROMOTER_VERBATIMS = ["Great support and a product that just works.", "Love it, fast and reliable!",
                      "Support solved my problem in minutes.", "Best in class, keep it up."]
DETRACTOR_VERBATIMS = ["Support never answers.", "Constant problems and no fix.",
                       "Way too many bugs lately.", "I'm switching to a competitor."]
PASSIVE_OTHER = ["It's alright.", "Does the job.", "Some features are missing.", ""]

FIRST_NAMES = ["Anna", "Ben", "Chloe", "David", "Elif", "Farid", "Greta", "Hiro", "Ines",
               "Jonas", "Kofi", "Lena", "Marco", "Nora", "Omar", "Priya", "Quinn", "Rosa",
               "Sam", "Tomas", "Uma", "Viktor", "Wen", "Yara", "Zoe"]
LAST_NAMES = ["Keller", "Novak", "Garcia", "Smith", "Okafor", "Tanaka", "Silva", "Berg",
              "Kowalski", "Haddad", "Murphy", "Jensen", "Rossi", "Nguyen"]
SOCIAL_PLATFORMS = ["x", "facebook", "instagram", "reddit"]

# -- realism: names, PII in several formats, quoted e-mail history --------------------------

# how a customer introduces or signs as themselves ({name} first name, {full} full name)
NAME_INTROS = ["Hi, this is {full}.", "Hello, {full} here.", "Hi, my name is {name}.",
               "Good afternoon, {full} writing.", ""]
SIGN_OFFS = ["Thanks, {name}", "Best regards,\n{full}", "Cheers\n{name}", "-- {full}",
             "Kind regards, {full}", "Thank you, {name}"]
# PII sentences: (kind, template); values are filled by the generator in several formats
PII_TEMPLATES: list[tuple[str, str]] = [
    ("email", "You can reach me at {email}."),
    ("phone", "Call me back on {phone} please."),
    ("phone", "My number is {phone_alt}."),
    ("email_phone", "You can reach me at {email} or {phone}."),
    ("card", "My card 4539 1488 0343 6467 was charged."),
    ("iban", "Please refund to IBAN DE89 3704 0044 0532 0130 00."),
    ("iban", "refund to my account please: {iban_lower}"),
    ("address", "Ship the replacement to {address}."),
]
PHONE_FORMATS = ["555{d7}", "+44794{d7}", "0794{d1} {d6}", "+49 30 {d7}", "(555) {d3}-{d4}"]
IBANS_LOWER = ["gb82 west 1234 5698 7654 32", "de44 5001 0517 5407 3249 31", "fr14 2004 1010 0505 0001 3m02 606"]
STREETS = ["Baker Street", "Hauptstrasse", "Elm Avenue", "Rue de la Paix", "Market Lane"]
CITIES = ["London NW1 6XE", "10115 Berlin", "Springfield, IL 62704", "75002 Paris", "Leeds LS1 4AP"]
QUOTE_HEADERS = ["On {weekday}, {date} at {time}, {sender} wrote:",
                 "On {date}, {sender} <support@voicelake.example> wrote:"]
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]

# -- planted product ideas (gold.product_feedback's ground truth) ----------------------------
# idea -> ways customers ask for it. A customer wants one idea of their product's (drawn once,
# by PRODUCT_IDEAS' weights) and states it in every feature request they open, and now and then
# as an aside in a conversation about something else.
IDEAS: dict[str, list[str]] = {
    "dark_mode": [
        "it would be great if {product} had a dark mode",
        "please add a dark theme to {product}",
        "I wish the {product} app had a night mode",
        "could you offer a dark colour scheme in {product}?",
    ],
    "csv_export": [
        "please add an export to CSV in {product}",
        "it would help if {product} could export my data to a spreadsheet",
        "you should let us download our {product} history as a CSV file",
        "an option to export everything from {product} to Excel would be really useful",
    ],
    "multi_user": [
        "could you add support for multiple users on the {product}?",
        "please let several people in my family share one {product} account",
        "it would be nice to have a separate profile for each person using the {product}",
        "you should allow more than one login per {product} household",
    ],
    "voice_assistant": [
        "please make the {product} work with Alexa",
        "it would be great if I could control the {product} with Google Assistant",
        "could you add Siri support to the {product}?",
        "you should add voice control to the {product}",
    ],
    "status_page": [
        "please publish a status page for {product} outages",
        "it would help if {product} emailed us as soon as there is an outage",
        "you should have a public page showing whether {product} is up",
    ],
    "update_time": [
        "suggestion: let us pick the update time for the {product}",
        "please let me choose when the {product} installs updates",
        "it would be better if the {product} updated at night instead of during the day",
        "you should add a setting to postpone {product} updates",
    ],
    "guest_network": [
        "please add a separate guest network option to the {product}",
        "it would be great if the {product} could switch the guest wifi off on a timer",
        "could the {product} get a one-tap guest access code for visitors?",
    ],
    "geofencing": [
        "it would be great if the {product} turned the heating down when we all leave home",
        "please add geofencing to the {product} so it knows when I'm away",
        "you should let the {product} use my phone's location to start heating before I get home",
    ],
    "sso_login": [
        "please add single sign-on with our company accounts to {product}",
        "it would help a lot if {product} supported SAML login",
        "you should let our team log in to {product} with Google Workspace",
    ],
}
# product -> (idea, weight): the planted ranking of each product's ideas
PRODUCT_IDEAS: dict[str, list[tuple[str, float]]] = {
    "Nimbus Router": [("guest_network", 0.45), ("update_time", 0.3), ("multi_user", 0.15), ("dark_mode", 0.1)],
    "Atlas App": [("dark_mode", 0.45), ("csv_export", 0.3), ("multi_user", 0.15), ("voice_assistant", 0.1)],
    "Pulse Thermostat": [("geofencing", 0.45), ("multi_user", 0.3), ("update_time", 0.15), ("voice_assistant", 0.1)],
    "Orbit Cloud": [("sso_login", 0.45), ("csv_export", 0.3), ("status_page", 0.15), ("dark_mode", 0.1)],
}
ASIDE_OPENERS = ["Also,", "By the way,", "Unrelated, but", "One more thing:", "Oh and"]
# sentences that look like suggestions and are not (the hard negatives of suggestion mining),
# planted now and then in conversations about something else
HARD_NEGATIVES = [
    "I should have read the manual first.",
    "Should I restart the {product}?",
    "Could you check my account, please?",
    "Maybe I did something wrong with the settings.",
    "Would it help if I reinstalled it?",
    "I wish I had known this before I bought it.",
    "You said it would be fixed by now.",
    "Can you tell me when this will be fixed?",
    "I was told to contact you here.",
    "It would have been nice to get an answer yesterday.",
]
