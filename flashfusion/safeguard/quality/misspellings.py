"""A small list of common English misspellings, misspelling -> correction.

Source: codespell's dictionary (https://github.com/codespell-project/codespell,
codespell_lib/data/dictionary.txt, commit 00043960c21f5cb0b0d1c9fc9f0bd3cb2660c070; CC BY-SA 3.0).
Only entries with a single correction were taken, chosen for the words listing copy uses
(design, description, cotton, accessories, ...). This is not a dictionary: a word missing here is
not checked, so the check can only find these known slips, never flag a correct word.
"""

SOURCE = (
    "https://github.com/codespell-project/codespell/blob/"
    "00043960c21f5cb0b0d1c9fc9f0bd3cb2660c070/codespell_lib/data/dictionary.txt"
)

MISSPELLINGS: dict[str, str] = {
    "absense": "absence",
    "absolutly": "absolutely",
    "acceptible": "acceptable",
    "accesories": "accessories",
    "accesory": "accessory",
    "accidently": "accidentally",
    "accomodate": "accommodate",
    "accross": "across",
    "accuratly": "accurately",
    "acheive": "achieve",
    "acknowlege": "acknowledge",
    "acommodate": "accommodate",
    "acquaintence": "acquaintance",
    "actualy": "actually",
    "acually": "actually",
    "adaquate": "adequate",
    "additionaly": "additionally",
    "conveinent": "convenient",
    "convinient": "convenient",
    "copyrigth": "copyright",
    "cotten": "cotton",
    "delvery": "delivery",
    "desciption": "description",
    "descripton": "description",
    "desgin": "design",
    "desing": "design",
    "desinger": "designer",
    "desireable": "desirable",
    "detailled": "detailed",
    "developement": "development",
    "diferent": "different",
    "differant": "different",
    "diffrent": "different",
    "disapointed": "disappointed",
    "discription": "description",
    "disign": "design",
    "dissapointed": "disappointed",
    "relevent": "relevant",
    "religous": "religious",
    "remeber": "remember",
    "repetative": "repetitive",
    "resaurant": "restaurant",
}
