"""Pet forms of given names: which short forms are the same person's name (`resolver.names`).

Data only: `resolver.names` folds and reads it (`_nicknamed`).
"""

from __future__ import annotations

__all__ = ["NICKNAME_TABLE"]

#: Pet forms of given names that are the same person's (English, and Indian ones from a given
#: name): full name, then its pet forms. Only forms made from the name itself: a pet name that
#: could be anyone's (``Bunty``, ``Guddu``) is not here. Compared folded (`_sound`), and used
#: only beside one surname (`same_person`), so ``Bill Walker`` is William Walker and a lone ``Bill``
#: fits ``William Walker`` (as a lone ``Asha`` fits Asha Rao), but ``Bill`` is not ``William``.
#: Short forms that are prefixes (``Vik``, ``Chris``, ``Sam``) need no entry.
NICKNAME_TABLE: tuple[tuple[str, ...], ...] = (
    ("william", "bill", "billy", "will", "willy"), ("robert", "bob", "bobby", "rob", "robbie"),
    ("elizabeth", "liz", "lizzie", "lizzy", "beth", "betty", "libby"), ("richard", "rick", "ricky", "dick", "rich"),
    ("katherine", "kate", "katie", "kathy", "cathy", "kath"), ("catherine", "kate", "katie", "cathy", "cath"),
    ("margaret", "peggy", "maggie", "meg"), ("jennifer", "jenny", "jen"), ("eleanor", "ellie", "nell"),
    ("james", "jim", "jimmy"), ("michael", "mike", "mick"), ("david", "dave"), ("edward", "eddie", "ted", "ned"),
    ("henry", "harry"), ("john", "jack", "johnny"), ("charles", "charlie", "chuck"), ("anthony", "tony"),
    ("stephen", "steve"), ("steven", "steve"), ("joseph", "joe", "joey"), ("rebecca", "becky", "becca"),
    ("susan", "sue", "susie"), ("andrew", "andy"), ("nicholas", "nick"), ("sarah", "sally"),
    ("harpreet", "harry"), ("harjit", "harry"), ("harinder", "harry"), ("harvinder", "harry"),
    ("balwinder", "bally", "balli"), ("jaspreet", "jassi"), ("jasmeet", "jassi"), ("jaswinder", "jassi"),
    ("rajesh", "raju"), ("rajendra", "raju"), ("rajkumar", "raju"), ("vikram", "vicky"), ("vikas", "vicky"),
    ("sunil", "sunny"),
    # US and UK pet forms that are no prefix of the name (audit s40: ``Tom Kim`` / ``Thomas Kim`` on one
    # phone read as two people and split it)
    ("thomas", "tom", "tommy"), ("theodore", "ted", "teddy"), ("henry", "hank"), ("lawrence", "larry"),
    ("patricia", "patty", "patsy", "trish", "tricia"), ("elizabeth", "betsy", "bess", "bessie"),
    ("alexandra", "sasha"), ("alexander", "sasha"), ("daniel", "danny"), ("deborah", "debbie", "debby"),
    ("victoria", "vicky", "vickie", "tori"), ("oliver", "ollie"), ("amelia", "millie"), ("charlotte", "lottie"),
    ("francis", "frank", "frankie"), ("jacob", "jake"), ("nathaniel", "nate"), ("nathan", "nate"),
    ("abigail", "abby"), ("cynthia", "cindy"), ("judith", "judy"), ("barbara", "barb"), ("ronald", "ronnie"),
    ("donald", "donnie"), ("timothy", "timmy"), ("kenneth", "kenny"), ("samuel", "sammy"), ("benjamin", "benny"),
)  # fmt: skip
