package synthetic

import v1 "nrmnet/schemas/v1"

// This file holds the invented prose the generator puts together: referral
// sources, presenting issues, risk reasons, the child's wishes and feelings,
// and the reasons for decisions. Every sentence is neutral and generic; none
// describes a real child, place or event.

// firstResponderTypes weights who refers children: mostly local authorities
// and the police; the Home Office (UKVI, Border Force, Immigration
// Enforcement) almost only children who came from abroad. Overall about 52%
// local authority, 30% police, 11% Home Office.
var firstResponderTypes = map[bool][]weighted[v1.FirstResponderType]{
	false: { // UK nationals
		{v1.ResponderLocalAuthority, 58}, {v1.ResponderPolice, 36}, {v1.ResponderHomeOffice, 0.5},
		{v1.ResponderNGO, 2.5}, {v1.ResponderHealth, 1.5}, {v1.ResponderOther, 2},
	},
	true: { // children from abroad
		{v1.ResponderLocalAuthority, 45}, {v1.ResponderPolice, 22}, {v1.ResponderHomeOffice, 24},
		{v1.ResponderNGO, 6}, {v1.ResponderHealth, 1}, {v1.ResponderOther, 2},
	},
}

// firstResponderOrgs names organisations by type; "%s" is the authority's name.
var firstResponderOrgs = map[v1.FirstResponderType][]string{
	v1.ResponderLocalAuthority: {
		"%s Children's Services", "%s MASH", "%s Children's Social Care", "%s Leaving Care Team",
		"%s Exploitation and Missing Team", "%s Youth Justice Service",
	},
	v1.ResponderPolice: {
		"%s Police Safeguarding Hub", "%s Police Exploitation Team", "%s Police Missing Persons Unit",
		"British Transport Police", "%s Police Custody",
	},
	v1.ResponderHomeOffice: {
		"UK Visas and Immigration", "Border Force", "Immigration Enforcement", "Home Office Asylum Intake Unit",
	},
	v1.ResponderNGO: {
		"Northgate Young People's Project (synthetic)", "Harbourline Refugee Youth Service (synthetic)",
		"Kestrel Trafficking Support (synthetic)", "Open Door Children's Charity (synthetic)",
	},
	v1.ResponderHealth: {"%s Community Health Safeguarding Team", "%s Hospital Emergency Department"},
	v1.ResponderOther:  {"%s Youth Offending Team", "%s Education Safeguarding Service"},
}

// sources weights the source of a referral, per first-responder type.
var sources = map[v1.FirstResponderType][]weighted[string]{
	v1.ResponderLocalAuthority: {
		{"school", 25}, {"children's social care", 25}, {"police", 15}, {"youth offending service", 10},
		{"foster carer", 8}, {"health", 5}, {"family member", 5}, {"voluntary sector", 5}, {"self-referral", 2},
	},
	v1.ResponderPolice:     {{"police", 70}, {"British Transport Police", 10}, {"member of the public", 10}, {"school", 10}},
	v1.ResponderHomeOffice: {{"Border Force", 40}, {"asylum intake", 40}, {"immigration enforcement", 20}},
	v1.ResponderNGO:        {{"voluntary sector", 70}, {"self-referral", 20}, {"family member", 10}},
	v1.ResponderHealth:     {{"health", 80}, {"sexual health service", 20}},
	v1.ResponderOther:      {{"youth offending service", 50}, {"school", 30}, {"housing", 20}},
}

// presentingIssues are short categories, by exploitation type, for any
// child; arrivalIssues add those that only fit a child who came from abroad.
var presentingIssues = map[v1.ExploitationType][]string{
	v1.ExploitationCriminal: {
		"missing episodes", "found in possession of drugs and cash", "arrested in another county",
		"found at an address used for drug supply", "concerns about older associates",
		"unexplained injuries and new phone", "repeated going missing from care",
	},
	v1.ExploitationSexual: {
		"sexual exploitation concerns", "disclosure to a teacher", "found with adults in a hotel",
		"online grooming concerns", "missing overnight with unknown adults",
	},
	v1.ExploitationLabour: {"found working long hours", "found working in commercial premises"},
	v1.ExploitationDomesticServitude: {
		"domestic servitude concerns in a private household", "not attending school and caring for a household",
		"disclosure of unpaid domestic work",
	},
	v1.ExploitationOrganHarvesting: {"disclosure of a coerced medical procedure"},
	v1.ExploitationUnknown: {
		"missing episodes", "concerns about older associates", "disclosure to a youth worker",
		"concerns raised by a school",
	},
}

var arrivalIssues = map[v1.ExploitationType][]string{
	v1.ExploitationCriminal: {"found in a cannabis grow"},
	v1.ExploitationLabour:   {"unaccompanied arrival", "debt owed to agents", "working to repay travel costs"},
	v1.ExploitationUnknown: {
		"unaccompanied arrival", "account of exploitation on the journey", "concerns raised at age assessment",
		"found in the back of a lorry",
	},
	v1.ExploitationOrganHarvesting: {"disclosure of coerced medical procedure on the journey"},
}

// indicators describe, per type, what the panel saw; arrivalIndicators add
// those that only fit a child who came from abroad.
var indicators = map[v1.ExploitationType][]string{
	v1.ExploitationCriminal: {
		"repeated missing episodes with travel to other areas",
		"being found with drugs, cash and more than one phone",
		"a debt the child was told they had to work off",
		"control by older people the child was afraid of",
	},
	v1.ExploitationSexual: {
		"gifts and money from adults who then asked for something in return",
		"being taken to addresses the child did not know",
		"a pattern of grooming online and in person",
	},
	v1.ExploitationLabour: {
		"long hours of work for little or no pay",
		"work the child could not refuse or leave",
	},
	v1.ExploitationDomesticServitude: {
		"unpaid household work that kept the child out of school",
		"restrictions on leaving the house",
	},
	v1.ExploitationOrganHarvesting: {"an account of a procedure the child did not consent to"},
	v1.ExploitationUnknown: {
		"control of the child's movements by people who are not their carers",
		"recruitment arranged by others with deception",
	},
}

var arrivalIndicators = map[v1.ExploitationType][]string{
	v1.ExploitationLabour:  {"a travel debt held over the child"},
	v1.ExploitationUnknown: {"a consistent account of being moved and controlled on the journey"},
}

// riskReasons explain a rating.
var riskReasons = map[v1.RAG][]string{
	v1.RAGRed: {
		"Missing with a current risk of harm.", "Known links to an active drug line.",
		"Whereabouts of the people controlling the child unknown.", "Threats made to the child and family.",
	},
	v1.RAGAmber: {
		"Engaging with the placement but still in contact with associates.", "Missing episodes have reduced.",
		"Safety plan in place; some concerns remain.", "Awaiting information from another area.",
	},
	v1.RAGGreen: {
		"Settled in placement and attending education.", "No missing episodes since the plan started.",
		"Protective relationships in place.",
	},
}

// The child's wishes and feelings, written in the third person. A view is one
// sentence about feelings, one or two wishes, and sometimes a worry; how it
// was taken into account answers the first wish.
var (
	viewFeelings = []string{
		"They said they feel safer where they are living now.",
		"They said they are tired of being asked the same questions.",
		"They said they do not see themselves as a victim.",
		"They said they were scared when the police came.",
		"They said they like their foster carer and feel listened to.",
		"They said they feel calmer since starting college.",
		"They said they did not want to talk about everything that happened.",
		"They said they miss their family and think about them every day.",
		"They said they get angry when people talk about them without them there.",
		"They said they sleep better now that their phone is switched off at night.",
		"They said they felt confused at the first meeting but understood it better this time.",
		"They said they are proud of how much they have learned at school.",
	}
	viewWishes = []wishEntry{
		{"They would like to stay in their current placement.", "The safety plan keeps the placement, as they asked."},
		{"They would like to move to be nearer their sister.", "A move nearer their sister is being assessed with the placements team."},
		{"They want to go to college and study %s.", "Their social worker is helping them apply to college."},
		{"They would like to play football on Saturdays.", "A local club has been found and their carer will take them."},
		{"They want to speak to their mother by phone once a week.", "Weekly calls were agreed after a safety check."},
		{"They asked for the meetings to be held after school.", "Meetings were moved to after school as they asked."},
		{"They asked that their family are not contacted at this time.", "Contact with family is on hold, as they asked, and will be reviewed with them."},
		{"They want their social worker to stay the same.", "Their social worker will stay with them through the process."},
		{"They would like help to open a bank account.", "Their key worker will help them open an account."},
		{"They asked to be told about the decision in person.", "The decision will be explained to them in person, as they asked."},
		{"They would like to join a youth club with people their own age.", "A youth club place was arranged."},
		{"They want to learn to swim.", "Swimming lessons were added to their plan."},
		{"They asked for their key worker to come with them to appointments.", "Their key worker will go with them to appointments."},
	}
	// interpreterWish is only for a child who needs an interpreter.
	interpreterWish = wishEntry{
		"They asked for an interpreter who speaks their dialect.",
		"An interpreter for their dialect was booked for the next meeting.",
	}
	viewWorries = []string{
		"They are worried about a debt they were told they owe.",
		"They are worried that people they used to know will find them.",
		"They are worried about what will happen when they turn eighteen.",
		"They are worried about their younger brother at home.",
		"They are worried that the police will think they did something wrong.",
	}
	subjects = []string{
		"mechanics", "English", "football coaching", "hairdressing", "computing", "cooking",
		"electrical installation", "plumbing", "art", "bricklaying", "business", "music production",
	}
	generalResponses = []string{
		"Their views were read to the panel in their own words.",
		"Their views were shared with everyone working with them and are part of the plan.",
	}
)

// wishEntry is one wish and how it was answered.
type wishEntry struct{ wish, response string }

// Decision reasons.
var (
	rgPositiveOpen = []string{
		"The panel considered the referral, the strategy meeting notes and the social worker's assessment.",
		"The panel considered the referral, police information and the child's account given to their ICTG.",
		"The panel considered the referral and the information shared by the other authorities involved.",
	}
	rgNegative = []string{
		"The information available did not show the action, means and purpose needed, even to the reasonable grounds standard. Safeguarding continues under the child protection plan.",
		"The concerns raised are of child abuse that is being addressed through safeguarding; the panel did not find indicators of exploitation for another's gain. The decision can be reconsidered if new information emerges.",
	}
	cgPositive = []string{
		"On the information now available, including the child's consistent account and corroboration from police, the panel found that the child was more likely than not exploited.",
		"The panel weighed the evidence gathered during the recovery period and found, on the balance of probabilities, that the child was recruited, moved and exploited.",
	}
	cgNegative = []string{
		"The further information gathered during the recovery period did not establish, on the balance of probabilities, that the child was exploited. Support continues through the safeguarding plan.",
		"The panel found the information inconsistent on key points and could not conclude, on the balance of probabilities, that the child was exploited. The child's support needs are met under the Children Act.",
	}
	decisionChildViews = []string{
		"The child's wishes and feelings were read to the panel and considered before the decision.",
		"The child asked for the decision to be explained in person, and the social worker will do this.",
	}
	decisionChildViewsICTG = "The ICTG told the panel what the child wanted; the panel took this into account in the decision and the safety plan."
	reconsiderationReasons = map[v1.ReconsiderationOutcome][]string{
		v1.ReconsiderationAccepted: {
			"New information from the police was not available when the decision was made; the panel will decide again.",
			"The decision did not apply the guidance on the child's age and vulnerability; it will be made again.",
		},
		v1.ReconsiderationRefused: {
			"The new information does not change the panel's assessment; the decision stands.",
			"The decision was made in line with guidance and no new information was provided.",
		},
	}
	assuranceQueries = []string{
		"Please confirm how the child's account was weighed against the police information.",
		"Please confirm which members voted and that the test recorded is the one applied.",
		"Please provide the reasons for the time taken to reach the decision.",
	}
	postExitOutcomes = []string{
		"The safeguarding plan is working; no further exploitation concerns.",
		"One missing episode since exit; the plan has been updated with the police.",
		"The child is settled in education; the case can close after the next review.",
		"Concerns about renewed contact with associates; a strategy meeting has been held.",
	}
)
