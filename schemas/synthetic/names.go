package synthetic

import (
	"slices"
	"strings"

	v1 "nrmnet/schemas/v1"
)

// This file holds the data the generator draws from: nationalities with their
// shares of child referrals, languages, exploitation profiles and name pools.
// Every name is a common given or family name; a child is an invented
// combination of them. Shares are rounded from the published picture of child
// referrals into the NRM, not copied from any one year's figures.
//
// A name entry is written "Spelling|Other spelling|...=original script". The
// first spelling is the most common in UK records; the others are spellings
// of the same name that real records show (transliteration, diacritics kept
// or dropped, an Al-/El- prefix joined or split, a middle name dropped, a
// Cantonese or Wade-Giles romanisation). The original is the name in its own
// script where one is recorded.

// nameForm is one name and the Latin spellings records show for it.
type nameForm struct {
	spellings []string // the first is the most common
	original  string   // the name in its own script; "" when none is recorded
}

// forms parses name entries written "A|B|C=original".
func forms(entries ...string) []nameForm {
	out := make([]nameForm, 0, len(entries))
	for _, e := range entries {
		var f nameForm
		if i := strings.IndexByte(e, '='); i >= 0 {
			e, f.original = e[:i], e[i+1:]
		}
		f.spellings = strings.Split(e, "|")
		out = append(out, f)
	}
	return out
}

// weighted is a value with a relative weight.
type weighted[T any] struct {
	v T
	w float64
}

// exploitationProfile is how a group of children is exploited, as referral
// statistics show it.
type exploitationProfile struct {
	types       []weighted[v1.ExploitationType]
	countyLines float64 // share of criminal cases flagged as county lines
	secondType  float64 // share of cases recording a second type
	locations   []weighted[v1.ExploitationLocation]
	ages        []weighted[int] // age in whole years at referral
}

// nationality is one nationality group of referred children.
type nationality struct {
	code        string  // ISO 3166-1 alpha-3; "XXX" stateless, "UNK" unknown
	demonym     string  // for documentation and test messages
	weight      float64 // relative share of child referrals
	maleShare   float64 // share of boys
	documented  float64 // share with a documented date of birth
	disputed    float64 // share of estimated dates of birth that are age-disputed
	languages   []weighted[string]
	interpreter float64 // share needing an interpreter
	profile     *exploitationProfile
	oneName     float64 // share who give a single name only
	originals   float64 // share of records that keep the original script

	male, female, family []nameForm
	familyFirst          bool                // the original script puts the family name first
	originalJoin         string              // between the parts of an original-script name
	femaleFamily         func(string) string // the feminine form of a family name, where it differs
	second               []string            // second nationalities of dual nationals
	secondShare          float64

	// Built by buildTables.
	familyFemale []nameForm           // family names in their feminine forms
	givenIndex   map[string]*nameForm // spelling -> given name form
	familyIndex  map[string]*nameForm // spelling -> family name form (either gender)
}

// Ages at referral: most children are 14 to 17, with a younger tail that is
// longer for UK nationals (county lines recruit from 12 or 13).
var (
	agesUK = []weighted[int]{
		{3, 0.2}, {5, 0.2}, {6, 0.2}, {7, 0.3}, {8, 0.5}, {9, 0.7}, {10, 1.5}, {11, 2.5},
		{12, 5}, {13, 9}, {14, 15}, {15, 21}, {16, 24}, {17, 20},
	}
	agesMigrant = []weighted[int]{
		{4, 0.2}, {6, 0.3}, {8, 0.3}, {9, 0.3}, {10, 0.8}, {11, 1}, {12, 2}, {13, 4},
		{14, 10}, {15, 20}, {16, 30}, {17, 32},
	}
)

func types(sexual, criminal, labour, domestic, organ, unknown float64) []weighted[v1.ExploitationType] {
	return []weighted[v1.ExploitationType]{
		{v1.ExploitationSexual, sexual}, {v1.ExploitationCriminal, criminal},
		{v1.ExploitationLabour, labour}, {v1.ExploitationDomesticServitude, domestic},
		{v1.ExploitationOrganHarvesting, organ}, {v1.ExploitationUnknown, unknown},
	}
}

func places(uk, overseas, both, unknown float64) []weighted[v1.ExploitationLocation] {
	return []weighted[v1.ExploitationLocation]{
		{v1.LocationUK, uk}, {v1.LocationOverseas, overseas},
		{v1.LocationBoth, both}, {v1.LocationUnknown, unknown},
	}
}

// The exploitation profiles. Criminal exploitation dominates for UK
// nationals, most of it county lines; cannabis cultivation and labour for
// Albanian, Vietnamese and Chinese children; labour and unknown exploitation
// on the journey for children from the Horn of Africa and the Middle East.
var (
	profileUK = &exploitationProfile{
		types:       types(14, 68, 2, 1, 0.05, 14),
		countyLines: 0.75, secondType: 0.10,
		locations: places(95, 1, 3, 1), ages: agesUK,
	}
	profileCultivation = &exploitationProfile{
		types:       types(9, 45, 33, 3, 0.05, 10),
		countyLines: 0.12, secondType: 0.15,
		locations: places(35, 12, 48, 5), ages: agesMigrant,
	}
	profileRoute = &exploitationProfile{
		types:       types(11, 14, 38, 8, 1.5, 26),
		countyLines: 0.05, secondType: 0.12,
		locations: places(6, 68, 22, 4), ages: agesMigrant,
	}
	profileMiddleEast = &exploitationProfile{
		types:       types(11, 28, 34, 6, 0.5, 20),
		countyLines: 0.08, secondType: 0.10,
		locations: places(14, 52, 30, 4), ages: agesMigrant,
	}
	profileEurope = &exploitationProfile{
		types:       types(26, 40, 22, 6, 0.05, 6),
		countyLines: 0.30, secondType: 0.12,
		locations: places(50, 7, 40, 3), ages: agesMigrant,
	}
	profileWestAfrica = &exploitationProfile{
		types:       types(30, 12, 18, 24, 0.2, 16),
		countyLines: 0.20, secondType: 0.12,
		locations: places(20, 30, 45, 5), ages: agesMigrant,
	}
	profileUnknown = &exploitationProfile{
		types:       types(10, 20, 20, 5, 0.2, 45),
		countyLines: 0.10, secondType: 0.05,
		locations: places(25, 25, 25, 25), ages: agesMigrant,
	}
)

// polishFeminine gives the feminine form of a Polish family name.
func polishFeminine(family string) string {
	for _, s := range []string{"ski", "cki", "dzki"} {
		if strings.HasSuffix(family, s) {
			return strings.TrimSuffix(family, "i") + "a"
		}
	}
	return family
}

// The Arabic-script form of the most common name, shared by several tables.
const muhammad = "=محمد"

// nationalities lists the groups of referred children, largest first.
var nationalities = []*nationality{
	{
		code: "GBR", demonym: "British", weight: 50, maleShare: 0.68, documented: 0.97, disputed: 0,
		languages: []weighted[string]{{"eng", 1}}, profile: profileUK, oneName: 0.01,
		second: []string{"JAM", "IRL", "NGA", "PAK", "SOM", "POL", "GHA"}, secondShare: 0.04,
		male: forms(
			"Kyle", "Callum|Calum", "Tyler", "Jayden|Jaiden|Jaden", "Kai|Kye", "Mason", "Reece|Reese",
			"Connor|Conor", "Liam", "Ethan", "Harvey", "Leon", "Kian|Kyan|Keon", "Jordan", "Ryan",
			"Lewis", "Aaron", "Brandon", "Charlie", "Alfie", "Riley|Rylee", "Louie",
			"Ashton", "Corey|Cory", "Dylan|Dillon", "Declan", "Jamal|Jamaal", "Tyrese|Tyreese|Tyrece",
			"Malachi|Malakai", "Kayden|Caden|Kaiden", "Rhys|Reis", "Ibrahim|Ebrahim", "Yusuf|Yousuf|Yusef",
			"Bilal|Belal", "Ayaan|Ayan", "Hamza|Hamzah", "Musa|Moosa", "Abdi", "Kofi", "Kwame",
			"Mohammed|Muhammad|Mohamed|Mohammad", "Deshawn|DeShawn|Dashawn", "Kobe|Kobi", "Zion",
			"Jaylen|Jaylon", "Ellis", "Frankie", "Archie", "Tobias|Toby", "Nathan", "Owen", "Finley|Finlay",
		),
		female: forms(
			"Ellie|Elli", "Chloe", "Megan|Meghan", "Jade", "Keira|Kiera", "Courtney|Kourtney", "Leah|Lea",
			"Amber", "Shannon", "Lacey|Lacy", "Kayla|Kaila", "Paige", "Demi", "Tia|Tiah", "Jasmine|Jasmin",
			"Aaliyah|Aliyah|Alia", "Amira|Ameera", "Maryam|Mariam", "Zara|Zarah", "Nia|Niah", "Imani",
			"Ruby", "Lily|Lilly", "Skye|Sky", "Summer", "Casey|Kasey", "Libby", "Millie|Milly",
			"Kacey|Kacie", "Hayley|Haylee|Hailey", "Ayesha|Aisha", "Precious", "Destiny", "Shanice|Shaniece",
		),
		family: forms(
			"Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas",
			"Johnson", "Roberts", "Wright", "Thompson|Thomson", "White", "Hughes", "Edwards", "Green",
			"Hall", "Wood", "Harris", "Martin", "Jackson", "Clarke|Clark", "Turner", "Hill", "Scott",
			"Cooper", "Morris", "Ward", "Moore", "King", "Watson", "Baker", "Harrison", "Morgan",
			"Patel", "Young", "Allen", "Mitchell", "Anderson", "Phillips|Philips", "Bell", "Parker",
			"Campbell", "Francis", "Okafor", "Mensah", "Osei", "Ahmed|Ahmad", "Hussain|Hussein|Husain|Hossain",
			"Begum|Begom", "Ali", "Khan", "Rahman|Rehman", "Warsame", "Grant", "Bailey", "Reid|Reed",
			"Stewart|Stuart", "Murphy", "Kelly", "O'Brien|OBrien|O Brien", "McCarthy|Mccarthy|MacCarthy",
			"Doherty|Docherty", "Gray|Grey", "McDonald|Mcdonald|MacDonald", "Nowak", "Gordon", "Boateng",
		),
	},
	{
		code: "SDN", demonym: "Sudanese", weight: 6, maleShare: 0.97, documented: 0.10, disputed: 0.18,
		languages: []weighted[string]{{"ara", 85}, {"fvr", 8}, {"mls", 7}}, interpreter: 0.9, profile: profileRoute,
		oneName: 0.02, originals: 0.35, originalJoin: " ",
		male: forms(
			"Mohamed|Mohammed|Muhammad|Mohammad"+muhammad, "Ahmed|Ahmad=أحمد", "Osman|Othman|Uthman=عثمان",
			"Abdelrahman|Abdalrahman|Abdulrahman|Abdel Rahman=عبد الرحمن", "Mustafa|Mostafa=مصطفى",
			"Yasir|Yassir|Yaser|Yasser=ياسر", "Hamza|Hamzah=حمزة", "Musa|Mousa|Moussa=موسى", "Adam|Adem=آدم",
			"Ibrahim|Ebrahim=إبراهيم", "Ishag|Ishaq|Ishak=إسحاق", "Abubakar|Abubaker|Abu Bakr|Abobakr=أبوبكر",
			"Elsadig|Al-Sadiq|Alsadig|El Sadig=الصادق", "Babiker|Babikir|Babekir=بابكر", "Elnour|Al-Nour|Alnour=النور",
			"Yousif|Yusuf|Yousef|Youssef=يوسف", "Hussein|Hussain|Husain=حسين", "Idris|Idriss|Edris=إدريس",
			"Suleiman|Sulaiman|Soliman=سليمان", "Abdalla|Abdallah|Abdullah=عبد الله", "Mohanad|Muhannad|Mohannad=مهند",
			"Mogahid|Mujahid|Mojahid=مجاهد", "Gaafar|Jaafar|Jafar=جعفر", "Elfatih|Al-Fatih|Alfatih=الفاتح",
			"Omer|Omar|Umar=عمر", "Ali=علي", "Khalid|Khaled=خالد", "Anwar|Anouar=أنور", "Bashir|Basheer=بشير",
			"Nasr|Nasir|Nassir=نصر", "Tajeldin|Taj Eldin|Tajaldin=تاج الدين", "Haroun|Harun|Haroon=هارون",
		),
		female: forms(
			"Fatima|Fatma|Fatouma=فاطمة", "Amna|Amina|Aamna=آمنة", "Aisha|Aysha|Aicha=عائشة", "Hawa|Hawwa=حواء",
			"Mariam|Maryam=مريم", "Khadiga|Khadija|Khadeeja=خديجة", "Sara|Sarah=سارة", "Rayan|Rayyan=ريان",
			"Asia|Asiya=آسيا", "Zeinab|Zainab=زينب",
		),
		family: forms(
			"Elamin|El Amin|Al-Amin|Alamin=الأمين", "Eltayeb|Al-Tayeb|Altayeb|El Tayeb=الطيب",
			"Abdalla|Abdallah|Abdullah=عبد الله", "Osman|Othman=عثمان", "Ishag|Ishaq|Ishak=إسحاق",
			"Babiker|Babikir=بابكر", "Yousif|Yusuf|Yousef=يوسف", "Adam|Adem=آدم", "Haroun|Harun|Haroon=هارون",
			"Mohamed|Mohammed|Muhammad"+muhammad, "Ahmed|Ahmad=أحمد", "Ali=علي", "Hassan|Hasan=حسن",
			"Abakar|Abbakar|Abaker=أبكر", "Zakaria|Zakariya|Zakariyya=زكريا", "Nour|Noor|Nur=نور",
			"Khamis|Khamees=خميس", "Ibrahim|Ebrahim=إبراهيم", "Musa|Mousa=موسى", "Idris|Idriss=إدريس",
			"Suleiman|Sulaiman=سليمان", "Hamid|Hamed=حامد", "Elhadi|Al-Hadi|Alhadi=الهادي",
			"Abdelkarim|Abdulkarim|Abdel Karim=عبد الكريم", "Eisa|Issa|Isa=عيسى",
		),
	},
	{
		code: "ALB", demonym: "Albanian", weight: 5.5, maleShare: 0.92, documented: 0.60, disputed: 0.08,
		languages: []weighted[string]{{"sqi", 1}}, interpreter: 0.8, profile: profileCultivation, oneName: 0.005,
		male: forms(
			"Dritan", "Bekim|Beqim", "Arben|Arbën", "Ardit", "Besnik", "Erion|Erjon", "Klodian|Klodjan|Klaudjan",
			"Endrit", "Fation|Fatjon", "Gentian|Gentjan", "Kristi", "Luan", "Marsel|Marcel", "Olsi|Olsy",
			"Redon", "Sokol", "Altin", "Elton", "Ergys|Ergis|Erges", "Jurgen|Jurgin|Xhurgen", "Amarildo",
			"Eljon|Elion", "Xhuljano|Juljano|Giuliano", "Denis", "Sidrit|Sidrid", "Indrit", "Enea|Eneas",
			"Alban", "Dorian", "Klevis", "Aldo", "Mateo|Matteo", "Ilir", "Bledar", "Ermal", "Gerti|Gerty",
			"Anxhelo|Angelo|Anxhello", "Kejdi|Keidi|Kejdy", "Florian|Florjan", "Mariglen|Marglen", "Lorenc|Lorenz",
		),
		female: forms(
			"Anisa|Anissa", "Arjola|Ariola", "Blerina", "Elona", "Erisa|Erissa", "Fjona|Fiona", "Kejsi|Kejsy|Keisi",
			"Megi|Meggi|Megy", "Rea", "Xhesika|Xhessika|Jesika", "Sara", "Amela", "Jonida", "Dorina",
			"Ermira", "Brikena", "Klea", "Klejda|Kleida", "Aurora", "Enkelejda|Enkeleida",
		),
		family: forms(
			"Shehu|Sheu", "Gjoni|Djoni", "Kola|Kolaj", "Dervishi|Dervish", "Leka|Lekaj", "Marku|Markaj",
			"Prifti|Priftaj", "Basha|Bashaj", "Cela|Çela|Chela", "Muca|Muça|Mucha", "Hysa|Hysaj",
			"Zeneli|Zenelaj", "Brahimi|Brahimaj|Ibrahimi", "Daci|Daçi|Dachi", "Hoxha|Hoxhaj|Hodja",
			"Gjeci|Gjeçi|Djeci", "Shkurti|Shkurtaj", "Lika|Likaj", "Mema|Memaj", "Kaci|Kaçi|Kachi",
			"Bushati", "Tafa|Tafaj", "Rexhepi|Rexhaj|Recepi", "Ndreca|Ndrecaj", "Beqiri|Beqaj|Bekiri",
			"Gashi", "Krasniqi|Krasnici", "Dushku|Dushkaj", "Xhafa|Xhafaj|Djafa", "Kapllani|Kaplani",
			"Halili|Halilaj", "Selmani|Selmanaj", "Sula|Sulaj", "Alia|Aliaj", "Toska|Toskaj", "Gjika|Gjikaj",
		),
	},
	{
		code: "VNM", demonym: "Vietnamese", weight: 5, maleShare: 0.85, documented: 0.30, disputed: 0.12,
		languages: []weighted[string]{{"vie", 1}}, interpreter: 0.9, profile: profileCultivation, oneName: 0.01,
		originals: 0.5, familyFirst: true, originalJoin: " ",
		male: forms(
			"Van Nam|Nam|Văn Nam=Văn Nam", "Duc Anh|Đuc Anh|Đức Anh=Đức Anh", "Minh Tuan|Tuan|Minh Tuấn=Minh Tuấn",
			"Quang Huy|Huy=Quang Huy", "Van Hung|Hung|Văn Hùng=Văn Hùng", "Thanh Long|Long=Thanh Long",
			"Hoang Long|Hoàng Long=Hoàng Long", "Van Dung|Dung|Văn Dũng=Văn Dũng", "Trung Kien|Kien|Trung Kiên=Trung Kiên",
			"Van Thang|Thang|Văn Thắng=Văn Thắng", "Cong Minh|Minh|Công Minh=Công Minh", "Huu Phuoc|Phuoc|Hữu Phước=Hữu Phước",
			"Dinh Khoa|Khoa|Đình Khoa=Đình Khoa", "Van Toan|Toan|Văn Toàn=Văn Toàn", "Tien Dat|Dat|Tiến Đạt=Tiến Đạt",
			"Manh Cuong|Cuong|Mạnh Cường=Mạnh Cường", "Van Tai|Tai|Văn Tài=Văn Tài", "Quoc Bao|Bao|Quốc Bảo=Quốc Bảo",
			"Xuan Truong|Truong|Xuân Trường=Xuân Trường", "Hai Dang|Hải Đăng=Hải Đăng", "Van Duc|Văn Đức=Văn Đức",
			"Gia Huy=Gia Huy", "Ngoc Son|Son|Ngọc Sơn=Ngọc Sơn", "Van Hieu|Hieu|Văn Hiếu=Văn Hiếu",
			"Thanh Tung|Tung|Thanh Tùng=Thanh Tùng", "Van Quyet|Quyet|Văn Quyết=Văn Quyết", "Duy Khanh|Khanh|Duy Khánh=Duy Khánh",
			"Van Phong|Phong|Văn Phong=Văn Phong", "Dang Khoa|Đăng Khoa=Đăng Khoa", "Bao Nam|Bảo Nam=Bảo Nam",
		),
		female: forms(
			"Thi Lan|Lan|Thị Lan=Thị Lan", "Thi Hoa|Hoa|Thị Hoa=Thị Hoa", "Ngoc Anh|Ngọc Anh=Ngọc Anh",
			"Thu Trang|Trang=Thu Trang", "Thi Huong|Huong|Thị Hương=Thị Hương", "Thi Mai|Mai|Thị Mai=Thị Mai",
			"Kim Ngan|Ngan|Kim Ngân=Kim Ngân", "Thi Thao|Thao|Thị Thảo=Thị Thảo", "Bich Ngoc|Bích Ngọc=Bích Ngọc",
			"Thi Linh|Linh|Thị Linh=Thị Linh", "Thanh Huyen|Huyen|Thanh Huyền=Thanh Huyền", "Thi Nhung|Nhung|Thị Nhung=Thị Nhung",
		),
		family: forms(
			"Nguyen|Nguyễn|Nguyên=Nguyễn", "Tran|Trần=Trần", "Le|Lê=Lê", "Pham|Phạm=Phạm", "Hoang|Hoàng=Hoàng",
			"Huynh|Huỳnh=Huỳnh", "Phan=Phan", "Vu|Vũ=Vũ", "Vo|Võ=Võ", "Dang|Đặng|Dặng=Đặng", "Bui|Bùi=Bùi",
			"Do|Đỗ|Đo=Đỗ", "Ho|Hồ=Hồ", "Ngo|Ngô=Ngô", "Duong|Dương=Dương", "Ly|Lý=Lý", "Dinh|Đinh=Đinh",
			"Trinh|Trịnh=Trịnh", "Mai=Mai", "Cao=Cao", "Ta|Tạ=Tạ", "Lam|Lâm=Lâm", "Luong|Lương=Lương",
			"Doan|Đoàn=Đoàn", "Trieu|Triệu=Triệu", "Chu=Chu",
		),
	},
	{
		code: "ERI", demonym: "Eritrean", weight: 5, maleShare: 0.88, documented: 0.15, disputed: 0.15,
		languages: []weighted[string]{{"tir", 88}, {"tig", 8}, {"ara", 4}}, interpreter: 0.9, profile: profileRoute,
		originals: 0.3, originalJoin: " ",
		male: forms(
			"Tesfay|Tesfaye|Tesfai|Tesfaie=ተስፋይ", "Yonas|Yonus|Younas=ዮናስ", "Dawit|Daweet=ዳዊት",
			"Mikael|Michael|Mikiel|Mikhael=ሚካኤል", "Filmon|Filimon|Philimon=ፊልሞን", "Henok|Henock|Hanok=ሄኖክ",
			"Biniam|Biniyam|Binyam=ቢንያም", "Amanuel|Amanual|Emanuel|Amaniel=ኣማኑኤል", "Abel|Abiel=ኣቤል",
			"Kibrom|Kubrom|Kebrom=ክብሮም", "Robel|Rubel=ሮቤል", "Nahom|Nahome|Nahum=ናሆም", "Mussie|Musie|Muse=ሙሴ",
			"Samson|Semson=ሳምሶን", "Semere|Semre|Semiere=ሰመረ", "Teklit|Tekelit", "Yemane|Yemani|Yemanie=የማነ",
			"Merhawi|Merhawie", "Habtom|Habtoum=ሃብቶም", "Bereket|Berekhet=በረኸት", "Natnael|Natinael|Nathnael=ናትናኤል",
			"Daniel|Danyel=ዳንኤል", "Samuel|Samiel=ሳሙኤል", "Yohannes|Yohanes|Yohanis=ዮሃንስ", "Efrem|Ephrem|Ifrem=ኤፍሬም",
			"Goitom|Goytom", "Aron|Aaron", "Medhanie|Medhane|Medhani=መድሃኔ", "Temesghen|Temesgen|Temesgn=ተመስገን",
			"Simon|Simeon", "Eyob|Iyob", "Awet|Awat",
		),
		female: forms(
			"Senait|Senayt|Senaiet=ሰናይት", "Helen|Hellen", "Luwam|Lwam|Luam", "Feven|Fiven", "Selam|Salam=ሰላም",
			"Saba=ሳባ", "Yodit|Yodith", "Hiwet|Hiwot", "Ruta|Rutha", "Segen|Seghen", "Winta|Wintana",
			"Eden|Edien", "Mekdes|Meqdes", "Semhar|Semhal", "Yohana|Johana|Yohanna", "Delina|Dalina",
			"Rahwa|Rahua", "Tsega|Tsegga",
		),
		family: forms(
			"Tesfay|Tesfaye|Tesfai=ተስፋይ", "Gebremariam|Ghebremariam|Gebre Mariam|G/Mariam=ገብረማርያም",
			"Tekle|Teklay|Tecle=ተኽለ", "Haile|Hailay|Hayle=ሃይለ", "Kidane|Kidan=ኪዳነ", "Berhane|Birhane|Brhane|Berhani=ብርሃነ",
			"Berhe|Birhe|Brhe", "Tesfamariam|Tesfa Mariam|Tesfamarian=ተስፋማርያም", "Weldu|Woldu|Wuldu=ወልዱ",
			"Mehari|Mehary|Mihari", "Andemariam|Ande Mariam", "Ghirmay|Girmay|Ghermay=ግርማይ", "Habte|Habtay|Habtie",
			"Asmerom|Asmarom", "Tewelde|Teweldebrhan", "Zerai|Zeray|Zerei", "Kahsay|Kasay|Kahsai",
			"Ghebreyesus|Gebreyesus|Ghebre Yesus|G/Yesus", "Yohannes|Yohanes=ዮሃንስ", "Tsegay|Tsegai|Tsegaye",
			"Solomon|Selomon=ሰሎሞን", "Estifanos|Stefanos|Istifanos", "Okbazghi|Okbazgi|Ukbazghi", "Ghebru|Gebru",
			"Abraha|Abreha", "Woldemichael|Weldemichael|W/Michael", "Negassi|Negasi", "Fisseha|Fsaha|Fiseha",
		),
	},
	{
		code: "AFG", demonym: "Afghan", weight: 3, maleShare: 0.97, documented: 0.10, disputed: 0.20,
		languages: []weighted[string]{{"pus", 55}, {"prs", 45}}, interpreter: 0.9, profile: profileMiddleEast,
		oneName: 0.08, originals: 0.3, originalJoin: " ",
		male: forms(
			"Ahmad|Ahmed=احمد", "Mohammad|Muhammad|Mohammed|Mohamad"+muhammad, "Abdul Rahman|Abdulrahman|Abdurrahman=عبدالرحمن",
			"Samiullah|Sami Ullah|Samiollah=سمیع الله", "Zabihullah|Zabiullah|Zabihollah=ذبیح الله",
			"Naqibullah|Naqeebullah=نقیب الله", "Rahmatullah|Rahmatollah=رحمت الله", "Ezatullah|Izzatullah|Ezatollah=عزت الله",
			"Hamid|Hameed=حمید", "Jawad|Javad=جواد", "Sohrab|Suhrab=سهراب", "Bilal|Belal=بلال",
			"Mustafa|Mostafa|Mustapha=مصطفی", "Idris|Idrees|Edris=ادریس", "Farid|Fareed=فرید", "Wahid|Waheed=وحید",
			"Naseer|Nasir|Nasser=نصیر", "Javed|Jawed|Javid=جاوید", "Ismail|Esmail|Ismael=اسماعیل",
			"Yousuf|Yusuf|Yousof=یوسف", "Shafiq|Shafeeq|Shafique=شفیق", "Asadullah|Asad Ullah=اسد الله",
			"Khalid|Khaled=خالد", "Habib|Habeeb=حبیب", "Ali=علی", "Hussain|Hossain|Husain|Hussein=حسین",
			"Sayed|Said|Sayid=سید", "Noorullah|Nurullah|Noor Ullah=نورالله", "Jamshid|Jamsheed=جمشید",
			"Obaidullah|Ubaidullah=عبیدالله", "Rohullah|Ruhullah=روح الله", "Mujtaba|Mojtaba=مجتبی",
		),
		female: forms(
			"Fatima|Fatema=فاطمه", "Zahra|Zehra=زهرا", "Maryam|Mariam=مریم", "Sahar|Sahr=سحر",
			"Parwana|Parvana=پروانه", "Shabnam|Shabnum=شبنم", "Mursal|Morsal=مرسل", "Nilofar|Nilufar=نیلوفر",
			"Freshta|Fereshta|Fereshteh=فرشته", "Marwa|Marwah=مروه",
		),
		family: forms(
			"Ahmadi|Ahmady|Ahmadie=احمدی", "Ahmadzai|Ahmadzay=احمدزی", "Noori|Nouri|Nuri=نوری", "Hashimi|Hashemi=هاشمی",
			"Rahimi|Raheemi=رحیمی", "Sultani|Soltani=سلطانی", "Amiri|Ameeri=امیری", "Haidari|Hayderi|Heydari=حیدری",
			"Popal", "Safi", "Stanekzai|Stanikzai", "Mohammadi|Muhammadi|Mohamadi=محمدی", "Rasuli|Rasooli=رسولی",
			"Karimi|Kareemi=کریمی", "Nazari|Nazary=نظری", "Hotak|Hotaki", "Sharifi|Shareefi=شریفی", "Wardak|Wardag",
			"Niazi|Neyazi=نیازی", "Mangal", "Azizi|Azizy=عزیزی", "Sadat|Saadat=سادات", "Jalali|Jalaly=جلالی",
			"Habibi|Habeebi=حبیبی", "Qaderi|Qadiri|Kadiri=قادری", "Yousufzai|Yusufzai|Yousafzai",
			"Ibrahimi|Ebrahimi=ابراهیمی", "Samadi|Samady=صمدی",
		),
	},
	{
		code: "IRQ", demonym: "Iraqi", weight: 2.5, maleShare: 0.95, documented: 0.20, disputed: 0.15,
		languages: []weighted[string]{{"kur", 60}, {"ara", 40}}, interpreter: 0.85, profile: profileMiddleEast,
		oneName: 0.01, originals: 0.25, originalJoin: " ",
		male: forms(
			"Rebwar|Rebuar", "Karwan|Carwan", "Hawkar|Hawker", "Shwan|Shuan", "Dilshad|Dilshaad", "Aram",
			"Baran", "Ranj|Renj", "Rawand|Rawend", "Hemin|Hemn|Himin", "Sirwan|Sirvan", "Zana", "Hogr|Hoger",
			"Soran", "Bryar|Briar", "Hardi|Hardy", "Peshraw|Peshrau|Peshrew", "Kawa", "Diyar|Diar", "Rekar|Reker",
			"Shaho", "Ako", "Ali=علي", "Hussein|Hussain|Husain|Hossain=حسين", "Haider|Haidar|Hayder=حيدر",
			"Mustafa|Mostafa|Moustafa=مصطفى", "Abbas|Abas=عباس", "Karrar|Karar=كرار",
			"Murtadha|Murtada|Mortada|Murtaza=مرتضى", "Zaid|Zayd|Zeid=زيد", "Ahmed|Ahmad=أحمد",
			"Yousif|Yusuf|Yousef|Youssef=يوسف", "Sajjad|Sajad=سجاد", "Ammar|Amar=عمار", "Yaseen|Yassin|Yasin=ياسين",
			"Mohammed|Muhammad|Mohamed|Mohammad"+muhammad,
		),
		female: forms(
			"Avin|Aveen", "Shilan|Shelan", "Rozhin|Rojin", "Hana", "Zhino|Jino", "Dashne|Dashni", "Lana",
			"Berivan|Bervan", "Zahraa|Zahra=زهراء", "Fatima|Fatema=فاطمة", "Noor|Nour=نور", "Ruqaya|Ruqayya|Rukaya=رقية",
		),
		family: forms(
			"Ahmed|Ahmad=أحمد", "Mohammed|Muhammad|Mohamad"+muhammad, "Rasul|Rasool|Rasoul=رسول",
			"Qadir|Kadir|Qader|Kader=قادر", "Karim|Kareem=كريم", "Hama|Hamah", "Aziz|Azeez=عزيز",
			"Mahmood|Mahmoud|Mahmud=محمود", "Faraj|Farag=فرج", "Othman|Osman|Uthman=عثمان", "Salih|Saleh=صالح",
			"Abdullah|Abdulla|Abdalla=عبد الله", "Hussein|Hussain|Husain|Hossain=حسين", "Jalal|Celal=جلال",
			"Omer|Omar|Umar=عمر", "Rashid|Rasheed=رشيد", "Ali=علي", "Majeed|Majid=مجيد", "Hamid|Hameed=حميد",
			"Sharif|Shareef=شريف", "Tofiq|Tawfiq|Tofik=توفيق", "Amin|Ameen=أمين", "Jabbar|Jabar=جبار",
			"Kakil|Kakl", "Mirza|Merza", "Hasan|Hassan=حسن",
		),
	},
	{
		code: "IRN", demonym: "Iranian", weight: 2.2, maleShare: 0.93, documented: 0.20, disputed: 0.15,
		languages: []weighted[string]{{"fas", 70}, {"kur", 30}}, interpreter: 0.85, profile: profileMiddleEast,
		originals: 0.35, originalJoin: " ",
		male: forms(
			"Reza|Rezza=رضا", "Hossein|Hussein|Hosein|Husain=حسین", "Mehdi|Mahdi|Mehdy=مهدی", "Ali=علی", "Amir=امیر",
			"Hamid|Hameed=حمید", "Saeed|Said|Saied=سعید", "Farshad=فرشاد", "Milad=میلاد", "Arash=آرش",
			"Omid|Umid=امید", "Sina=سینا", "Pouya|Pooya|Puya=پویا", "Amirhossein|Amir Hossein|Amir-Hossein=امیرحسین",
			"Mohammadreza|Mohammad Reza|Mohamadreza=محمدرضا", "Ebrahim|Ibrahim=ابراهیم", "Yousef|Yusuf|Youssef|Yosef=یوسف",
			"Mohammad|Mohammed|Muhammad|Mohamad"+muhammad, "Abolfazl|Abolfazel|Abulfazl=ابوالفضل", "Peyman|Payman=پیمان",
			"Kourosh|Kurosh|Koroush=کوروش", "Shahin|Shaheen=شاهین", "Behzad|Bezad=بهزاد", "Mahan=ماهان",
			"Kian|Kiyan=کیان", "Aryan|Arian=آرین", "Danial|Daniyal|Daniel=دانیال", "Sajjad|Sajad=سجاد",
			"Karwan|Carwan", "Hiwa|Hiva", "Rebin|Rebeen", "Zhiyar|Jiyar",
		),
		female: forms(
			"Fatemeh|Fatima|Fatemah=فاطمه", "Zahra|Zehra=زهرا", "Maryam|Mariam=مریم", "Narges|Nargis=نرگس",
			"Sara|Sarah=سارا", "Parisa=پریسا", "Nazanin=نازنین", "Setareh|Setare=ستاره", "Shirin|Sheereen=شیرین",
			"Ava=آوا", "Hasti|Hasty=هستی", "Yasaman|Yasamin|Yasmin=یاسمن",
		),
		family: forms(
			"Ahmadi|Ahmady=احمدی", "Mohammadi|Mohamadi|Muhammadi=محمدی", "Hosseini|Hoseini|Husseini=حسینی",
			"Rezaei|Rezaee|Rezai|Rezayi=رضایی", "Karimi|Kareemi=کریمی", "Rahimi|Raheemi=رحیمی", "Jafari|Jaafari|Jafary=جعفری",
			"Ghasemi|Qasemi|Kasemi=قاسمی", "Moradi|Muradi=مرادی", "Sadeghi|Sadeqi|Sadeghy=صادقی",
			"Heidari|Haidari|Heydari=حیدری", "Azizi|Azizy=عزیزی", "Abbasi|Abasi=عباسی", "Rostami|Rustami=رستمی",
			"Kazemi|Kazimi|Qazemi=کاظمی", "Nazari|Nazary=نظری", "Akbari|Akbary=اکبری", "Salehi|Salihi=صالحی",
			"Bagheri|Baqeri|Bakeri=باقری", "Hashemi|Hashimi=هاشمی", "Ebrahimi|Ibrahimi=ابراهیمی",
			"Soltani|Sultani=سلطانی", "Mirzaei|Mirzaee|Mirzai=میرزایی", "Shirzadi|Shirzady=شیرزادی",
			"Mahmoudi|Mahmudi=محمودی", "Panahi|Panahy=پناهی", "Faraji|Farajy=فرجی",
		),
	},
	{
		code: "ETH", demonym: "Ethiopian", weight: 2, maleShare: 0.80, documented: 0.20, disputed: 0.12,
		languages: []weighted[string]{{"amh", 55}, {"orm", 30}, {"tir", 15}}, interpreter: 0.85, profile: profileRoute,
		originals: 0.3, originalJoin: " ",
		male: forms(
			"Abel|Abiel=አቤል", "Dawit|Dawitt=ዳዊት", "Yared|Yarid=ያሬድ", "Natnael|Nathnael|Natinael=ናትናኤል",
			"Eyob|Iyob|Eyoab=ኢዮብ", "Bereket|Berket=በረከት", "Biruk|Biruck|Bruk=ብሩክ", "Kaleab|Kaleb=ካሌብ",
			"Yonatan|Yonathan=ዮናታን", "Samuel|Samiel=ሳሙኤል", "Tewodros|Tewodroes|Theodros=ቴዎድሮስ",
			"Kirubel|Kiruebel=ኪሩቤል", "Henok|Henock=ሄኖክ", "Amanuel|Amanual=አማኑኤል", "Ermias|Ermiyas=ኤርሚያስ",
			"Abdi|Abdii", "Gemechu|Gemachu", "Lencho|Lenco", "Tolera|Tolara", "Bilisuma|Bilisummaa",
			"Robel|Robiel", "Fitsum|Fitsun", "Nahom|Nahome", "Mikiyas|Mikias", "Elias|Eliyas", "Ibsa|Ibsaa",
		),
		female: forms(
			"Hana|Hanna=ሐና", "Selamawit|Selamawite=ሰላማዊት", "Meron|Miron=ሜሮን", "Bethlehem|Betelhem|Betlehem=ቤተልሔም",
			"Tigist|Tigest=ትዕግስት", "Hiwot|Hiwet=ሕይወት", "Liya|Lia=ሊያ", "Rahel|Rahell=ራሔል", "Eden|Edenn=ኤደን",
			"Kidist|Kidest=ቅድስት", "Mahlet|Mahelet=ማህሌት", "Tsion|Tsiyon=ጽዮን", "Chaltu|Caaltuu", "Lalise|Lalisee",
		),
		family: forms(
			"Abebe|Abebbe=አበበ", "Kebede|Kebbede=ከበደ", "Tadesse|Tadese|Taddese=ታደሰ", "Bekele|Bekelle=በቀለ",
			"Alemu|Alemmu=አለሙ", "Girma|Girmaw=ግርማ", "Getachew|Getachewu|Getachow=ጌታቸው", "Tesfaye|Tesfay|Tesfaie=ተስፋዬ",
			"Worku|Werku=ወርቁ", "Desta|Dessta=ደስታ", "Mekonnen|Mekonen|Makonnen=መኮንን", "Negash|Negashe=ነጋሽ",
			"Assefa|Asefa|Assefaw=አሰፋ", "Hailu|Haylu=ኃይሉ", "Ayele|Ayelle=አየለ", "Tilahun|Tilahune=ጥላሁን",
			"Tefera|Teferra=ተፈራ", "Woldemichael|Wolde Michael|W/Michael", "Gemechu|Gemachu", "Tolosa|Tolossa",
			"Daba|Dabba", "Gudeta|Guddeta", "Mulugeta|Mulugetta=ሙሉጌታ", "Demissie|Demisse|Demese=ደምሴ",
		),
	},
	{
		code: "EGY", demonym: "Egyptian", weight: 2, maleShare: 0.97, documented: 0.30, disputed: 0.15,
		languages: []weighted[string]{{"ara", 1}}, interpreter: 0.9, profile: profileMiddleEast, originals: 0.3, originalJoin: " ",
		male: forms(
			"Mohamed|Mohammed|Muhammad|Mohamad"+muhammad, "Ahmed|Ahmad=أحمد", "Mahmoud|Mahmud|Mahmood=محمود",
			"Mostafa|Mustafa|Moustafa=مصطفى", "Youssef|Yousef|Yusuf|Yousif=يوسف", "Omar|Omer|Umar=عمر",
			"Karim|Kareem=كريم", "Abdelrahman|Abdulrahman|Abdel Rahman|Abd El-Rahman=عبد الرحمن", "Ali|Aly=علي",
			"Hassan|Hasan=حسن", "Hossam|Hussam|Husam=حسام", "Amr|Amro|Amru=عمرو", "Ziad|Ziyad|Zyad=زياد",
			"Eslam|Islam=إسلام", "Hamza|Hamzah=حمزة", "Seif|Saif|Sayf=سيف", "Marwan|Merwan=مروان",
			"Tarek|Tariq|Tarik=طارق", "Khaled|Khalid=خالد", "Ibrahim|Ebrahim|Brahim=إبراهيم",
			"Abdallah|Abdullah|Abdalla=عبد الله", "Belal|Bilal=بلال", "Ashraf=أشرف", "Moaz|Muaz|Mouaz=معاذ",
		),
		female: forms(
			"Mariam|Maryam=مريم", "Nour|Noor|Nur=نور", "Salma|Selma=سلمى", "Habiba|Habeeba=حبيبة", "Menna|Mena=منة",
			"Rawan|Rowan=روان", "Jana|Gana=جنى", "Malak|Malack=ملك",
		),
		family: forms(
			"El-Sayed|Elsayed|El Sayed|Al-Sayed=السيد", "Mansour|Mansur|Mansoor=منصور", "Hamdy|Hamdi=حمدي",
			"Fathy|Fathi=فتحي", "Ibrahim|Ebrahim=إبراهيم", "Hassan|Hasan=حسن", "Shehata|Shahata|Shehatah=شحاتة",
			"Ragab|Rajab=رجب", "Farouk|Farouq|Faruk=فاروق", "Gamal|Jamal=جمال", "Ashraf=أشرف", "Zaki|Zaky=زكي",
			"Nabil|Nabeel=نبيل", "Abdelaziz|Abdulaziz|Abdel Aziz=عبد العزيز", "Mahmoud|Mahmud=محمود",
			"Sobhy|Sobhi|Subhi=صبحي", "Ramadan|Ramadhan|Ramazan=رمضان", "Hegazy|Hegazi|Hijazi=حجازي",
			"Soliman|Suleiman|Sulaiman=سليمان", "Abdelhamid|Abdulhamid|Abdel Hamid=عبد الحميد", "Saad|Saed=سعد",
			"Attia|Atia|Atiyah=عطية", "Morsy|Morsi|Mursi=مرسي", "Khalil|Khaleel=خليل",
		),
	},
	{
		code: "SYR", demonym: "Syrian", weight: 1.2, maleShare: 0.90, documented: 0.30, disputed: 0.10,
		languages: []weighted[string]{{"ara", 80}, {"kur", 20}}, interpreter: 0.85, profile: profileMiddleEast,
		originals: 0.3, originalJoin: " ",
		male: forms(
			"Mohammad|Mohammed|Muhammad|Mohamad"+muhammad, "Ahmad|Ahmed=أحمد", "Omar|Omer|Umar=عمر",
			"Khaled|Khalid=خالد", "Hamza|Hamzeh|Hamzah=حمزة", "Yazan|Yazen=يزن", "Mahmoud|Mahmud=محمود",
			"Abdulrahman|Abdul Rahman|Abdelrahman=عبد الرحمن", "Anas|Anass=أنس", "Ammar|Amar=عمار",
			"Ayham|Aiham=أيهم", "Majd=مجد", "Rami|Ramy=رامي", "Karam=كرم", "Mohannad|Muhannad=مهند",
			"Ibrahim|Ebrahim=إبراهيم", "Yousef|Youssef|Yusuf|Yousif=يوسف", "Abdullah|Abdallah|Abdulla=عبد الله",
			"Obada|Ubada|Obadah=عبادة", "Moaz|Muaz|Mouaz|Muadh=معاذ", "Qusai|Kusai|Qusay=قصي", "Laith|Layth|Leith=ليث",
		),
		female: forms(
			"Rasha=رشا", "Lama=لمى", "Sham=شام", "Hala=هالة", "Nour|Noor=نور", "Ruba|Rouba=ربى", "Dima=ديما",
			"Raghad|Rghad=رغد", "Layal=ليال", "Aya|Ayah=آية", "Bayan=بيان", "Rahaf=رهف",
		),
		family: forms(
			"Al-Hassan|Alhassan|El Hassan=الحسن", "Haddad|Hadad=حداد", "Khalil|Khaleel=خليل", "Darwish|Darweesh=درويش",
			"Hamdan|Hamdane=حمدان", "Al-Ahmad|Alahmad|Al Ahmad=الأحمد", "Sabbagh|Sabagh=صباغ", "Al-Shami|Alshami|Shami=الشامي",
			"Al-Najjar|Najjar|Alnajjar=النجار", "Qassem|Kassem|Kasem|Qasem=قاسم", "Hijazi|Hegazi|Hejazi=حجازي",
			"Al-Ali|Alali=العلي", "Al-Hussein|Alhussein|Al Hussein=الحسين", "Othman|Osman=عثمان",
			"Mustafa|Moustafa=مصطفى", "Al-Khatib|Alkhatib|Khatib=الخطيب", "Hamoud|Hammoud|Hamud=حمود",
			"Al-Masri|Almasri|Masri=المصري", "Saleh|Salih=صالح", "Suleiman|Sulaiman=سليمان", "Al-Halabi|Alhalabi|Halabi=الحلبي",
		),
	},
	{
		code: "ROU", demonym: "Romanian", weight: 1.1, maleShare: 0.60, documented: 0.90, disputed: 0.05,
		languages: []weighted[string]{{"ron", 80}, {"rom", 20}}, interpreter: 0.5, profile: profileEurope,
		male: forms(
			"Andrei", "Alexandru", "Ionuț|Ionut|Ionuţ", "Ștefan|Ştefan|Stefan", "Mihai", "Gabriel", "Florin",
			"Marian", "Cristian", "Adrian", "Bogdan", "Costel", "Daniel", "Ionel", "Marius", "Nicușor|Nicusor|Nicuşor",
			"Petrică|Petrica", "Răzvan|Razvan", "Sorin", "Viorel", "Cosmin", "Denis", "Robert", "Samuel",
			"Fănel|Fanel", "Alin", "Darius", "Sebastian", "Vasile", "Claudiu",
		),
		female: forms(
			"Andreea|Andrea", "Alexandra", "Bianca", "Denisa", "Elena", "Florentina", "Ioana", "Maria",
			"Mădălina|Madalina", "Nicoleta", "Roxana", "Larisa", "Ramona", "Loredana", "Gabriela", "Alina",
			"Ștefania|Ştefania|Stefania", "Cătălina|Catalina",
		),
		family: forms(
			"Popescu", "Ionescu", "Stan", "Dumitru", "Radu", "Gheorghe", "Constantin", "Stoica", "Munteanu",
			"Matei", "Ciobanu", "Lazăr|Lazar", "Rusu", "Mocanu", "Moldovan", "Barbu", "Niță|Nita|Niţă", "Dinu",
			"Lungu", "Vasile", "Bălan|Balan", "Căldăraru|Caldararu", "Ursu", "Toma", "Marin", "Tudor", "Zamfir",
			"Șerban|Şerban|Serban", "Stănescu|Stanescu", "Dobre", "Florea", "Tănase|Tanase",
		),
	},
	{
		code: "NGA", demonym: "Nigerian", weight: 1.1, maleShare: 0.45, documented: 0.50, disputed: 0.10,
		languages: []weighted[string]{{"eng", 40}, {"yor", 25}, {"ibo", 20}, {"hau", 15}}, interpreter: 0.25, profile: profileWestAfrica,
		male: forms(
			"Chinedu|Chinedum", "Emeka|Chukwuemeka", "Oluwaseun|Oluseun|Seun", "Babatunde|Tunde", "Ifeanyi|Ifeanyichukwu",
			"Obinna|Obina", "Segun|Olusegun", "Tobiloba|Tobi", "Daniel", "Samuel", "Emmanuel|Emanuel", "David",
			"Oluwafemi|Femi", "Kelechi|Kelechukwu", "Uchenna|Uche", "Aliyu|Aliu|Aliou", "Abubakar|Abubakr|Abubakari",
			"Ibrahim|Ibraheem|Ibrahima", "Musa|Moussa", "Sani|Saani", "Yusuf|Yusuff|Yussuf", "Adewale|Wale",
			"Chibuike|Chibuikem", "Somtochukwu|Somto", "Godswill|Godwill", "Victor", "Ayomide|Ayo", "Kehinde|Kehinda",
		),
		female: forms(
			"Chiamaka|Amaka", "Ngozi", "Adaeze", "Funmilayo|Funmi", "Blessing", "Favour|Favor", "Precious",
			"Esther", "Joy", "Temitope|Temi", "Omolara", "Ifeoma|Ifeomah", "Chioma|Chiomah", "Bukola|Bukky",
			"Yetunde", "Aishat|Aisha|Aishatu", "Zainab|Zainabu", "Hauwa|Hawa", "Amina|Aminat|Aminatu",
			"Rukayat|Ruqayyah|Rukayyat", "Mercy", "Goodness", "Oluwadamilola|Damilola|Dami", "Chidinma|Chidimma",
		),
		family: forms(
			"Okafor", "Adeyemi", "Ogunleye", "Eze", "Nwosu", "Olawale", "Balogun", "Chukwu", "Nnamdi",
			"Ibrahim|Ibraheem", "Bello|Belo", "Musa", "Abubakar|Abubakr", "Okoro", "Afolabi", "Ogundipe",
			"Akinola", "Ezeani", "Nwachukwu|Nwachuku", "Oyelaran", "Adebayo", "Ogbonna|Ogbona", "Lawal|Lawali",
			"Aliyu|Aliu|Aliou", "Usman|Uthman|Othman", "Danjuma|Dan Juma", "Suleiman|Sulaiman|Sulaimon",
			"Oyewole", "Eze-Okafor|Ezeokafor", "Adeleke", "Okonji", "Igwe", "Onuoha", "Odukoya",
		),
	},
	{
		code: "POL", demonym: "Polish", weight: 0.6, maleShare: 0.65, documented: 0.95, disputed: 0.05,
		languages: []weighted[string]{{"pol", 1}}, interpreter: 0.4, profile: profileEurope, femaleFamily: polishFeminine,
		male: forms(
			"Jakub", "Kacper|Kasper", "Szymon", "Mateusz", "Bartosz", "Michał|Michal", "Paweł|Pawel", "Dawid",
			"Kamil", "Łukasz|Lukasz", "Wiktor|Viktor", "Oskar", "Patryk|Patrick", "Dominik", "Krystian|Christian",
			"Filip", "Adrian", "Hubert", "Igor", "Sebastian", "Maciej", "Wojciech",
		),
		female: forms(
			"Julia", "Zuzanna", "Wiktoria|Victoria", "Natalia", "Oliwia|Olivia", "Maja", "Amelia",
			"Aleksandra|Alexandra", "Weronika|Veronika", "Martyna", "Karolina", "Klaudia|Claudia",
		),
		family: forms(
			"Nowak", "Kowalski", "Wiśniewski|Wisniewski", "Wójcik|Wojcik", "Kowalczyk", "Kamiński|Kaminski",
			"Zieliński|Zielinski", "Szymański|Szymanski", "Woźniak|Wozniak", "Dąbrowski|Dabrowski",
			"Kozłowski|Kozlowski", "Jankowski", "Mazur", "Krawczyk", "Piotrowski", "Grabowski", "Pawlak",
			"Michalski", "Król|Krol", "Wieczorek", "Jabłoński|Jablonski", "Wróbel|Wrobel", "Nowicki",
		),
	},
	{
		code: "CHN", demonym: "Chinese", weight: 0.6, maleShare: 0.70, documented: 0.40, disputed: 0.10,
		languages: []weighted[string]{{"zho", 85}, {"yue", 15}}, interpreter: 0.9, profile: profileCultivation,
		originals: 0.5, familyFirst: true, originalJoin: "",
		male: forms(
			"Wei=伟", "Zihao|Zi Hao|Tzu-hao=子豪", "Haoran|Hao Ran=浩然", "Junjie|Jun Jie|Chun-chieh=俊杰",
			"Jiahao|Jia Hao|Ka Ho=家豪", "Yuxuan|Yu Xuan=宇轩", "Ming=明", "Lei=磊", "Jun|Chun=军", "Qiang|Chiang=强",
			"Jie|Chieh=杰", "Hao=浩", "Peng=鹏", "Tao=涛", "Jian|Chien=健", "Bowen|Bo Wen=博文", "Zhiwei|Zhi Wei|Chih-wei=志伟",
			"Yifan|Yi Fan=一凡", "Chenxi|Chen Xi=晨曦", "Kai=凯",
		),
		female: forms(
			"Xinyi|Xin Yi|Hsin-i=欣怡", "Yutong|Yu Tong=雨桐", "Mei=梅", "Fang=芳", "Jing|Ching=静", "Ting=婷",
			"Xiaoli|Xiao Li|Hsiao-li=晓丽", "Min=敏", "Yan=燕", "Lili|Li Li=丽丽", "Shuang=爽", "Jiayi|Jia Yi|Ka Yi=佳怡",
		),
		family: forms(
			"Wang|Wong=王", "Li|Lee=李", "Zhang|Chang|Cheung=张", "Liu|Lau=刘", "Chen|Chan=陈", "Yang|Yeung=杨",
			"Huang|Wong|Hwang=黄", "Zhao|Chiu|Chao=赵", "Wu|Ng=吴", "Zhou|Chou|Chow=周", "Lin|Lam=林", "Zheng|Cheng=郑",
			"Xu|Hsu|Tsui=徐", "Sun|Suen=孙", "He|Ho=何", "Gao|Kao=高", "Luo|Lo|Law=罗", "Zhu|Chu=朱", "Guo|Kuo|Kwok=郭",
			"Ma=马", "Hu|Woo=胡", "Lu|Lo|Lou=卢",
		),
	},
	{
		code: "PAK", demonym: "Pakistani", weight: 0.6, maleShare: 0.80, documented: 0.40, disputed: 0.10,
		languages: []weighted[string]{{"urd", 60}, {"pan", 25}, {"pus", 15}}, interpreter: 0.7, profile: profileMiddleEast,
		male: forms(
			"Muhammad|Mohammad|Mohammed|Muhammed", "Ali", "Hamza|Hamzah", "Bilal|Belal", "Usman|Osman|Othman",
			"Zain|Zayn", "Abdullah|Abdulla", "Hassan|Hasan", "Hussain|Husain|Hussein", "Umar|Omar", "Ahmed|Ahmad",
			"Faisal|Faysal", "Asad|Assad", "Saad|Sa'ad", "Talha|Talhah", "Waqas|Waqaas", "Adeel|Adil", "Shahid|Shaheed",
			"Haris|Harris", "Danish|Daanish",
		),
		female: forms(
			"Ayesha|Aisha", "Fatima|Fatma", "Zainab|Zaynab", "Maryam|Mariam", "Hira", "Iqra", "Sana", "Mahnoor|Mahnur",
		),
		family: forms(
			"Khan", "Ahmed|Ahmad", "Hussain|Husain|Hussein", "Iqbal", "Akhtar|Akhter", "Raza", "Shah",
			"Qureshi|Kureshi|Quraishi", "Chaudhry|Choudhry|Chaudhary|Chowdhury", "Butt", "Mirza", "Siddiqui|Siddiqi",
			"Javed|Javaid|Jawed", "Rashid|Rasheed", "Bibi", "Mehmood|Mahmood|Mahmud", "Anwar|Anwer", "Aslam|Aslum",
		),
	},
	{
		code: "SOM", demonym: "Somali", weight: 0.6, maleShare: 0.80, documented: 0.10, disputed: 0.12,
		languages: []weighted[string]{{"som", 1}}, interpreter: 0.7, profile: profileRoute, oneName: 0.02,
		male: forms(
			"Abdi|Cabdi", "Abdirahman|Abdulrahman|Cabdiraxmaan", "Mohamed|Maxamed|Mohammed|Muhammad", "Ahmed|Axmed",
			"Hassan|Xasan", "Ali|Cali", "Omar|Cumar", "Yusuf|Yuusuf", "Abdullahi|Cabdullaahi", "Ismail|Ismaaciil",
			"Hamza|Xamza", "Mahad|Mahaad", "Bashir|Bashiir", "Said|Saciid", "Liban|Libaan", "Zakariye|Sakariye",
		),
		female: forms(
			"Hodan|Hoodan", "Fadumo|Faadumo|Fatuma", "Amina|Aamina", "Sagal", "Ifrah|Ifra", "Hibo|Hibaaq", "Nimco|Nimo",
			"Khadra|Xadra", "Sahra|Sahro", "Ubah|Ubax",
		),
		family: forms(
			"Abdi|Cabdi", "Hassan|Xasan", "Warsame|Warsama", "Jama|Jaamac", "Nur|Nuur", "Osman|Cusmaan",
			"Aden|Aadan|Adan", "Hussein|Xuseen", "Mohamud|Maxamuud|Mahmoud", "Yusuf|Yuusuf", "Elmi|Cilmi",
			"Ibrahim|Ibraahim", "Abdullahi|Cabdullaahi", "Gedi|Geedi", "Farah|Faarax", "Egal|Cigaal", "Dirie|Diiriye",
		),
	},
	{
		code: "XXX", demonym: "stateless (Kuwaiti Bidoon)", weight: 0.5, maleShare: 0.90, documented: 0.05, disputed: 0.15,
		languages: []weighted[string]{{"ara", 1}}, interpreter: 0.85, profile: profileMiddleEast, originals: 0.3, originalJoin: " ",
		male: forms(
			"Fahad|Fahd=فهد", "Abdullah|Abdulla|Abdallah=عبد الله", "Faisal|Faysal|Feisal=فيصل", "Nasser|Naser|Nasir=ناصر",
			"Mohammed|Mohammad|Muhammad"+muhammad, "Khalid|Khaled=خالد", "Saad|Sa'ad|Saed=سعد", "Bader|Badr|Bedar=بدر",
			"Hamad|Hamed=حمد", "Sultan|Soltan=سلطان", "Turki|Torki=تركي", "Mishal|Meshal|Mishaal=مشعل",
			"Yousef|Yousif|Yusuf=يوسف", "Ali=علي", "Abdulaziz|Abdul Aziz=عبد العزيز", "Salem|Salim|Saleem=سالم",
			"Ahmed|Ahmad=أحمد", "Jaber|Jabir=جابر", "Dhari|Dari|Thari=ضاري", "Mutlaq|Mutlag|Motlaq=مطلق",
		),
		female: forms(
			"Noura|Nora|Norah=نورة", "Sara|Sarah=سارة", "Dana=دانة", "Shahad=شهد", "Hessa|Hissa|Hesa=حصة", "Mariam|Maryam=مريم",
		),
		family: forms(
			"Al-Enezi|Alenezi|Al-Anazi|Al Anzi|Alanezi=العنزي", "Al-Shammari|Alshammari|Al Shamari|Shammari=الشمري",
			"Al-Dhafeeri|Aldhafiri|Al-Thafiri|Al Dhafiri=الظفيري", "Al-Mutairi|Almutairi|Al Mutairy=المطيري",
			"Al-Harbi|Alharbi|Al Harby=الحربي", "Al-Fadhli|Alfadhli|Al-Fadli=الفضلي", "Al-Rashidi|Alrashidi|Al Rashedi=الرشيدي",
			"Al-Azmi|Alazmi|Al Ezmi=العازمي", "Al-Ajmi|Alajmi|Al Ajami=العجمي", "Al-Khaldi|Alkhaldi|Al Khalidi=الخالدي",
			"Al-Otaibi|Alotaibi|Al Utaybi=العتيبي", "Al-Saadi|Alsaadi|Al Saedi=السعدي",
		),
	},
	{
		// Nationality not known: names come from another group's pools, and no
		// language is recorded.
		code: "UNK", demonym: "unknown", weight: 0.8, maleShare: 0.85, documented: 0, disputed: 0.2,
		interpreter: 0.6, profile: profileUnknown, oneName: 0.05,
	},
}

// advocateGiven and advocateFamily name invented ICTGs and advocates (adults).
var (
	advocateGiven = []string{
		"Sarah", "Helen", "David", "Claire", "Paul", "Rachel", "Mark", "Joanne", "Andrew", "Nadia",
		"Priya", "Tom", "Grace", "Samira", "Owen", "Fiona", "Yetunde", "Marek", "Hannah", "Rashida",
		"Gareth", "Siobhan", "Kemi", "Ruth", "Imran", "Leila", "Catrin", "Duncan", "Beatrice", "Tariq",
	}
	advocateFamily = []string{
		"Ashworth", "Bennett", "Chowdhury", "Davidson", "Ellison", "Fairbairn", "Gallagher", "Hartley",
		"Iqbal", "Jennings", "Kowalczyk", "Lindqvist", "Mahoney", "Nwankwo", "Okonedo", "Pemberton",
		"Quinlan", "Rowlands", "Sutherland", "Thackeray", "Underwood", "Varga", "Whitfield", "Yardley",
	}
)

// avoidNames are combinations that would name a well-known person. The
// generator never gives a child one of these as a used name.
var avoidNames = map[string]bool{
	"Kyle Walker": true, "Callum Wilson": true, "Mason Mount": true, "Reece James": true,
	"Mohamed Salah": true, "Mohammed Ali": true, "Muhammad Ali": true, "Ilir Meta": true,
	"Abel Tesfaye": true, "Ashraf Ghani": true, "Li Na": true, "Yang Wei": true, "Wang Yi": true,
}

// tables indexes the data above.
var tables = buildTables()

type nameTables struct {
	nationalities []weighted[*nationality] // every group, by share of referrals
	donors        []weighted[*nationality] // groups that lend names to children of unknown nationality
	byCode        map[string]*nationality
	givenIndex    map[string]*nameForm // spelling -> given name form, across every group
	familyIndex   map[string]*nameForm // spelling -> family name form, across every group
}

func buildTables() nameTables {
	t := nameTables{
		byCode:      map[string]*nationality{},
		givenIndex:  map[string]*nameForm{},
		familyIndex: map[string]*nameForm{},
	}
	index := func(into, global map[string]*nameForm, pool []nameForm) {
		for i := range pool {
			for _, s := range pool[i].spellings {
				if _, ok := into[s]; !ok {
					into[s] = &pool[i]
				}
				if _, ok := global[s]; !ok {
					global[s] = &pool[i]
				}
			}
		}
	}
	for _, n := range nationalities {
		t.nationalities = append(t.nationalities, weighted[*nationality]{n, n.weight})
		t.byCode[n.code] = n
		if n.femaleFamily != nil {
			for _, f := range n.family {
				fem := nameForm{original: f.original}
				for _, s := range f.spellings {
					if s = n.femaleFamily(s); !slices.Contains(fem.spellings, s) {
						fem.spellings = append(fem.spellings, s)
					}
				}
				n.familyFemale = append(n.familyFemale, fem)
			}
		}
		n.givenIndex, n.familyIndex = map[string]*nameForm{}, map[string]*nameForm{}
		index(n.givenIndex, t.givenIndex, n.male)
		index(n.givenIndex, t.givenIndex, n.female)
		index(n.familyIndex, t.familyIndex, n.family)
		index(n.familyIndex, t.familyIndex, n.familyFemale)
		if len(n.male) > 0 && n.code != "GBR" {
			t.donors = append(t.donors, weighted[*nationality]{n, n.weight})
		}
	}
	return t
}
