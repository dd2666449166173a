"""USPTO trademark status codes -> live / pending / dead.

Code descriptions: the USPTO status code table (Table 1 of the Trademark Applications DTD
documentation) as transcribed in github.com/28msec/trademark-search,
queries/modules/com/28msec/www/modules/trademarks/texts (function `texts:status-code`).

The live / dead reading: "A 'live' trademark registration or application is one that is active
(on either the Principal or Supplemental Register), or pending ... A 'dead' trademark registration
or application for registration is one that has been abandoned, withdrawn, or cancelled"
(https://tomjameslaw.com/ufaq-tag/register/). So a code whose description says ABANDONED,
CANCELLED (of a registration or an international registration without transformation) or EXPIRED
is dead; REGISTERED / SECTION 8, 15 ACCEPTED / RENEWED is live; an application step is pending.
Where trademarkdir.com/status-codes groups a status under "Registered" or "Pending" (e.g.
"Awaiting Divisional Fee" under Registered, "Petition to Revive Pending" and "Backfile Added"
under Pending) that grouping is followed.

`verified=False` marks codes whose description does not settle it (proceedings that may concern
an application or a registration, "status unclear", refusals not yet final) and codes missing
from the table: they are treated as pending (they still count in screening) and counted as
unverified in the import summary. No source read states code ranges, so none are used.
"""

from dataclasses import dataclass

from flashfusion.safeguard.trademark.types import MarkStatus

live, pending, dead = MarkStatus.live, MarkStatus.pending, MarkStatus.dead


@dataclass(frozen=True)
class StatusCode:
    description: str
    status: MarkStatus
    verified: bool = True


def _c(description: str, status: MarkStatus, verified: bool = True) -> StatusCode:
    return StatusCode(description, status, verified)


STATUS_CODES: dict[str, StatusCode] = {
    "000": _c("UNKNOWN", pending, False),
    "400": _c("IR CANCELLED; APPLICATION PENDING TRANSFORMATION", pending),
    "401": _c("IR CANCELLED - NO TRANSFORMATION FILED", dead),
    "402": _c("IR CANCELLED--CASE ABANDONED/CANCELLED", dead),
    "403": _c("IR CANCELLED; REGISTRATION PENDING TRANSFORMATION", pending, False),
    "600": _c("ABANDONED - INCOMPLETE RESPONSE", dead),
    "601": _c("ABANDONED - EXPRESS", dead),
    "602": _c("ABANDONED-FAILURE TO RESPOND OR LATE RESPONSE", dead),
    "603": _c("ABANDONED - AFTER EX PARTE APPEAL", dead),
    "604": _c("ABANDONED - AFTER INTER-PARTES DECISION", dead),
    "605": _c("ABANDONED - AFTER PUBLICATION", dead),
    "606": _c("ABANDONED - NO STATEMENT OF USE FILED", dead),
    "607": _c("ABANDONED - DEFECTIVE STATEMENT OF USE", dead),
    "608": _c("ABANDONED - AFTER PETITION DECISION", dead),
    "609": _c("ABANDONED - DEFECTIVE DIVIDED APPLICATION", dead),
    "612": _c("PETITION TO REVIVE-RECEIVED", pending),
    "614": _c("ABANDONED PETITION TO REVIVE-DENIED", dead),
    "616": _c("REVIVED - AWAITING FURTHER ACTION", pending),
    "618": _c("ABANDONED FILE - BACKFILE", dead),
    "620": _c("BACKFILE APPLICATION ADDED TO DATA BASE - STATUS NOT RECORDED", pending),
    "622": _c("MISASSIGNED SERIAL NUMBER", pending, False),
    "624": _c("REGISTERED - BACKFILE", live),
    "625": _c("REGISTRATION ADDED TO THE DATA BASE-STATUS UNCLEAR", pending, False),
    "626": _c("REGISTERED - BACKFILE CANCELLED OR EXPIRED", dead),
    "630": _c("NEW APPLICATION - RECORD INITIALIZED NOT ASSIGNED TO EXAMINER", pending),
    "631": _c("NEW APPLICATION - DIVIDED - INITIAL PROCESSING", pending),
    "632": _c("INFORMAL APPLICATION", pending),
    "638": _c("NEW APPLICATION - ASSIGNED TO EXAMINER", pending),
    "640": _c("NON-FINAL ACTION COUNTED - NOT MAILED", pending),
    "641": _c("NON-FINAL ACTION - MAILED", pending),
    "642": _c("INVENTORIED AS REJECTED", pending),
    "643": _c("PREVIOUS ACTION/ALLOWANCE COUNT WITHDRAWN", pending),
    "644": _c("FINAL REFUSAL COUNTED - NOT MAILED", pending),
    "645": _c("FINAL REFUSAL - MAILED", pending),
    "646": _c("EXAMINERS AMENDMENT COUNTED - NOT MAILED", pending),
    "647": _c("EXAMINERS AMENDMENT - MAILED", pending),
    "648": _c("ACTION CONTINUING FINAL COUNTED - NOT MAILED", pending),
    "649": _c("ACTION CONTINUING FINAL - MAILED", pending),
    "650": _c("SUSPENSION INQUIRY COUNTED - NOT MAILED", pending),
    "651": _c("SUSPENSION INQUIRY - MAILED", pending),
    "652": _c("SUSPENSION LETTER COUNTED - NOT MAILED", pending),
    "653": _c("SUSPENSION LETTER - MAILED", pending),
    "654": _c("REPORT COMPLETED SUSPENSION CHECK - CASE STILL SUSPENDED", pending),
    "655": _c("EXAMINER'S AMENDMENT/PRIORITY ACTION COUNTED NOT MAILED", pending),
    "656": _c("EXAMINER'S AMENDMENT/PRIORITY ACTION MAILED", pending),
    "657": _c("PRIORITY ACTION COUNTED NOT MAILED", pending),
    "658": _c("PRIORITY ACTION MAILED", pending),
    "659": _c("SUBSEQUENT FINAL REFUSAL COUNTED NOT MAILED", pending),
    "660": _c("SUBSEQUENT FINAL MAILED", pending),
    "661": _c("RESPONSE AFTER NON-FINAL ACTION - ENTERED", pending),
    "663": _c("RESPONSE AFTER FINAL REJECTION - ENTERED", pending),
    "664": _c("INVENTORIED AS AMENDED", pending),
    "665": _c("NOTICE OF UNRESPONSIVE AMENDMENT - COUNTED", pending),
    "666": _c("NOTICE OF UNRESPONSIVE AMENDMENT - MAILED", pending),
    "667": _c("REFUSAL WITHDRAWL LETTER - COUNTED", pending),
    "668": _c("REFUSAL WITHDRAWL LETTER - MAILED", pending),
    "672": _c("REINSTATED - AWAITING FURTHER ACTION", pending),
    "673": _c("PETITION GRANTED- AWAITING FURTHER ACTION", pending),
    "680": _c("APPROVED FOR PUBLICATION", pending),
    "681": _c("PUBLICATION/ISSUE REVIEW COMPLETE", pending),
    "682": _c("ON HOLD - ADDITIONAL PUB REVIEW REQUIRED", pending),
    "686": _c("PUBLISHED FOR OPPOSITION", pending),
    "688": _c("NOTICE OF ALLOWANCE - ISSUED", pending),
    "689": _c("NOTICE OF ALLOWANCE - WITHDRAWN", pending),
    "690": _c("NOTICE OF ALLOWANCE - CANCELLED", pending, False),
    "692": _c("WITHDRAWN BEFORE PUBLICATION", pending),
    "693": _c("WITHDRAWN FROM ISSUE-JURISDICTION RESTORED", pending),
    "694": _c("WITHDRAWN BEFORE ISSUE", pending),
    "700": _c("REGISTERED", live),
    "701": _c("SECTION 8-ACCEPTED", live),
    "702": _c("SECTION 8 & 15-ACCEPTED AND ACKNOWLEDGED", live),
    "703": _c("SECTION 15-ACKNOWLEDGED", live),
    "704": _c("PARTIAL SECTION 8 ACCEPTED", live),
    "705": _c("PARTIAL SECTION 8 & 15 ACCEPTED AND ACKNOWLEDGED", live),
    "710": _c("CANCELLED - SECTION 8", dead),
    "711": _c("CANCELLED - SECTION 7", dead),
    "712": _c("CANCELLED BY COURT ORDER (SECTION 37)", dead),
    "713": _c("CANCELLED - SECTION 18", dead),
    "714": _c("CANCELLED - SECTION 24", dead),
    "715": _c("CANCELLED - RESTORED TO PENDENCY", pending),
    "716": _c("INADVERTENTLY ISSUED REGISTRATION NUMBER CANCELLED", pending, False),
    "717": _c("REGISTERED - AWAITING DIVISIONAL FEE", live),
    "718": _c("REQUEST FOR FIRST EXTENSION - FILED", pending),
    "719": _c("REQUEST FOR SECOND EXTENSION - FILED", pending),
    "720": _c("REQUEST FOR THIRD EXTENSION - FILED", pending),
    "721": _c("REQUEST FOR FOURTH EXTENSION - FILED", pending),
    "722": _c("REQUEST FOR FIFTH EXTENSION - FILED", pending),
    "724": _c("EXTENSION REQUEST REFUSAL - COUNTED", pending),
    "725": _c("EXTENSION REQUEST REFUSAL - MAILED", pending),
    "730": _c("FIRST EXTENSION - GRANTED", pending),
    "731": _c("SECOND EXTENSION - GRANTED", pending),
    "732": _c("THIRD EXTENSION - GRANTED", pending),
    "733": _c("FOURTH EXTENSION - GRANTED", pending),
    "734": _c("FIFTH EXTENSION - GRANTED", pending),
    "740": _c("POST REGISTRATION PAPER FILED - ASSIGNED TO PARA-LEGAL", live),
    "744": _c("STATEMENT OF USE - FILED", pending),
    "745": _c("STATEMENT OF USE - INFORMAL-LETTER MAILED", pending),
    "746": _c("STATEMENT OF USE - INFORMAL-RESPONSE ENTERED", pending),
    "748": _c("STATEMENT OF USE - TO EXAMINER", pending),
    "752": _c("SU - EXAMINER STATEMENT COUNTED - NOT MAILED", pending),
    "753": _c("SU - EXAMINER STATEMENT - MAILED", pending),
    "756": _c("EXAMINER STATEMENT COUNTED - NOT MAILED", pending),
    "757": _c("EXAMINER STATEMENT - MAILED", pending),
    "760": _c("EX PARTE APPEAL PENDING", pending),
    "762": _c("EX PARTE APPEAL TERMINATED", pending, False),
    "763": _c("EX PARTE APPEAL-REFUSAL AFFIRMED", pending, False),
    "764": _c("EX PARTE APPEAL DISMISSED AS MOOT", pending, False),
    "765": _c("CONCURRENT USE PROCEEDING TERMINATED-GRANTED", pending, False),
    "766": _c("CONCURRENT USE PROCEEDING TERMINATED-DENIED", pending, False),
    "771": _c("CONCURRENT USE PROCEEDING PENDING", pending, False),
    "772": _c("INTERFERENCE PROCEEDING PENDING", pending, False),
    "773": _c("EXTENSION OF TIME TO OPPOSE PROCESS - TERMINATED", pending),
    "774": _c("OPPOSITION PENDING", pending),
    "775": _c("OPPOSITION DISMISSED", pending),
    "777": _c("OPPOSITION TERMINATED-SEE TTAB RECORDS", pending, False),
    "778": _c("CANCELLATION DISMISSED", pending, False),
    "779": _c("OPPOSITION SUSTAINED", pending, False),
    "780": _c("CANCELLATION TERMINATED - SEE TTAB RECORDS", pending, False),
    "790": _c("CANCELLATION PENDING", pending, False),
    "794": _c("JURISDICTION RESTORED TO EXAMINING ATTORNEY", pending),
    "800": _c("REGISTERED AND RENEWED", live),
    "801": _c("OPPOSITION PAPERS FILED", pending),
    "802": _c("REQUEST FOR EXTENSION OF TIME TO FILE OPPOSITION", pending),
    "803": _c("AMENDMENT AFTER PUBLICATION", pending),
    "804": _c("APPEAL RECEIVED AT TTAB", pending),
    "806": _c("SU - NON-FINAL ACTION COUNTED - NOT MAILED", pending),
    "807": _c("SU - NON-FINAL ACTION - MAILED", pending),
    "808": _c("SU - FINAL REFUSAL COUNTED - NOT MAILED", pending),
    "809": _c("SU - FINAL REFUSAL - MAILED", pending),
    "810": _c("SU - EXAMINER'S AMENDMENT COUNTED - NOT MAILED", pending),
    "811": _c("SU - EXAMINER'S AMENDMENT - MAILED", pending),
    "812": _c("SU - ACTION CONTINUING FINAL COUNTED - NOT MAILED", pending),
    "813": _c("SU - ACTION CONTINUING FINAL - MAILED", pending),
    "814": _c("SU - RESPONSE AFTER NON-FINAL ACTION - ENTERED", pending),
    "815": _c("SU - RESPONSE AFTER FINAL REJECTION - ENTERED", pending),
    "816": _c("SU - NOTICE OF UNRESPONSIVE AMENDMENT - COUNTED", pending),
    "817": _c("SU - NOTICE OF UNRESPONSIVE AMENDMENT - MAILED", pending),
    "818": _c("SU - STATEMENT OF USE ACCEPTED - APPROVED FOR REGISTRATION", pending),
    "819": _c("SU - REGISTRATION REVIEW COMPLETE", pending),
    "820": _c("SU - EXAMINER'S AMENDMENT/PRIORITY ACTION COUNTED NOT MAILED", pending),
    "821": _c("SU - EXAMINER'S AMENDMENT/PRIORITY ACTION MAILED", pending),
    "822": _c("SU - PRIORITY ACTION COUNTED NOT MAILED", pending),
    "823": _c("SU - PRIORITY ACTION MAILED", pending),
    "824": _c("SU - SUBSEQUENT FINAL REFUSAL WRITTEN", pending),
    "825": _c("SU - SUBSEQUENT FINAL MAILED", pending),
    "900": _c("EXPIRED", dead),
    "969": _c("NON REGISTRATION DATA", pending, False),
    "970": _c("RECORD CREATED DUE TO ASSIGNMENT REQUEST", pending, False),
    "973": _c("PENDING PETITION/COURT DECISION", pending, False),
}

UNKNOWN = StatusCode("not in the USPTO status code table", pending, False)


def map_status(code: str | None) -> StatusCode:
    """The mapping of a `<status-code>` value ("700", or "0700" zero-padded); unknown -> pending,
    unverified."""
    if code is None:
        return UNKNOWN
    text = code.strip()
    if text.isdigit():
        text = f"{int(text):03d}"
    return STATUS_CODES.get(text, UNKNOWN)
