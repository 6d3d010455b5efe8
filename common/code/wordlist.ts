/**
 * The built-in word list for movie-share codes (`<room>-<word>-<word>-<word>`).
 *
 * Exactly 2,048 distinct words (11 bits each, 33 bits for three words), written
 * for this project: common English words, lowercase a-z only, 3 to 7 letters,
 * no proper nouns, homophone pairs removed, and no two words within one edit
 * (substitution, insertion, deletion or swap of adjacent letters) of each
 * other, so a single typo never turns one valid word into another and
 * parseCode can name the word the user most likely meant.
 * test/unit/code.test.ts checks these properties.
 */

const RAW = `
  abbey abroad absorb accent access accord acid acorn acre action active actor
  admit adopt adult advice aerial affair afford afraid agenda agent agile agree
  ahead air aisle ajar alarm album alcove alert algae alibi alien alley
  allow almond almost alone alpha alpine alter always amber amount amuse anchor
  angel animal ankle annual answer anthem antler anvil anyway apart appear apple
  april apron aqua arcade arch archer arctic area argue armor army aroma
  arrive arrow art artist aside ask asleep aspect aspen asset assist atlas
  atom attach attend attic audio august author auto autumn avoid awake award
  awning axis axle baby badge bag bagel baker bald ballet bamboo banana
  banjo bank banner barrel basin baton bazaar beacon bean beaver bed beetle
  before begin behave behind being below bench beret beyond bike binder bird
  birth bison blade blast bleach blend blimp blink bliss blob bloom blouse
  blunt blur board bobcat body bolt bonus boost boring bottle bottom bought
  bowtie boxcar brain brave bread brief bright brisk broken bronze brook brown
  bucket buckle budget buffet bugle bulk bumper bundle bungee bunker burger burrow
  burst bus bushel butler button buyer buzz cabin cactus cadet camel camera
  camper canal cancel canoe canvas canyon cape car carbon career cargo carol
  carpet cashew castle casual cedar celery cement census cereal chair chalk chance
  chapel charge chart chase cheap check cheer cheese chef cherry chest chili
  chime chin chirp choice choose chorus chrome chunk cider cinema circle circus
  citrus city civil claim class clay clean clerk click client cliff climb
  clinic cloak closet cloth clover clown club coach cobalt cobra cocoa code
  cola colony column comet comic comma common condor convoy cookie copper cord
  cornet corral cosmos cotton cougar count couple course cousin cow cowboy coyote
  cozy crack cradle crane crater crayon crazy creamy credit creek crew crisp
  critic cross crouch crowd cruise crumb crunch cube cuckoo cup curve custom
  cycle daisy dance danger data day dazzle debate debris debut decent decide
  decoy defend define degree delay delta demand denim depot depth deputy derby
  desert design desire detail device devote dial diary diesel digit dime diner
  dingo direct dirt disco disk divide dizzy docile doctor dog dollar domain
  donate donkey donut door dotted double dozen dragon drama drawer dream drift
  drink drive drop drowsy drum dryer duck duet duffel dugout during duty
  dwarf dynamo eager eagle early earth easel easily easy eating ebony echo
  eclair edge editor eel effect effort egg eject elbow elder elite elm
  elude email embark emblem empire employ empty enable endive enemy energy engage
  engine enjoy enough ensure enter entire entry envy epic epoxy equal equip
  era erase erode errand error erupt escape essay estate ethics event evolve
  exact exam excess excite exhale exhibit exile exit expand expert explain explore
  expose express extend extra eye fable fabric facet factory faculty faith falafel
  falcon fall family famous fancy fanfare fantasy faraway farm fashion fasten favor
  feature federal feed fence fencing ferment fern ferry festive fetch few fiber
  fiction fiddler fifty fig figure film filter final finance finish firefly fiscal
  fishing fitness flag flannel flare flashy flask fleet flicker flight flint flip
  float flock floor flora florist flower fluffy fluid flurry flush flute flutter
  fly foam focus foggy foil foliage fond fondue footage forest forge fort
  fortune forum forward fossil foster fox fragile frame frank freckle freedom freeze
  freight frenzy fresh friday friend fringe frog frost frozen frugal fruit fuel
  fully funfair fur furnace fuse fusion future fuzzy gadget gala galaxy gallant
  galleon gallery gallop gaming gander garage garlic garment garnet gas gasket gate
  gateway gauge gazebo gazelle gecko gelato general genius genre gentle genuine geology
  geyser ghost giant gift gingham giraffe give glacier glad gladly glance glaze
  glen glimmer glimpse globe glory glossy glucose glue gnome goal goalie goblet
  goggles golden gondola good goodbye gorilla gossip govern grab grace gradual grammar
  grand granite granola graph graphic grass gravel gravity gravy grazing greet griddle
  grill grip grocery groom grotto ground group grove grow grunt guard guava
  guess guide guild guitar gulp gumdrop gutter gym habit habitat haiku hairy
  halibut hallway halo hamlet hammer hammock hamster handbag handle handy happen happy
  harbor hardly harmony harness harvest hat hatchet hawk hazard hazel heading headway
  heart heaven heavy hectare height hello helmet helpful hemp herb heron hexagon
  hidden high highway hiking hilltop hinge hippo hire history hold holiday hollow
  holly holster homage home honest honor hook hop hopeful horizon horn horse
  hostel hotcake hotdog housing hub huge human humid humming hunger hunt hurdle
  hurry husky hustle hybrid hydrant hyena ice iceberg icicle icing icon iconic
  idea idle igloo ignite iguana image imagine immune impact impala impose improve
  impulse inbox inch incline income index indigo indoor infant inform inhale inject
  ink inkpot inkwell inlet inner input inquiry inside inspect inspire install instant
  intact integer intend invest invite iodine iris irony island isotope itchy item
  ivory ivy jackal jacket jackpot jade jaguar jam janitor jaunt javelin jawbone
  jazz jeans jelly jersey jester jet jetpack jetty jewel jiffy jigsaw job
  jockey join joke journal journey jovial jubilee juicy jukebox jumbo jungle junior
  juniper junk jury just justice kale karate karma kayak keep keeper kernel
  kestrel ketchup key keycard keynote khaki kick kickoff kiln kindle kinetic kingdom
  kinship kiosk kit kitchen kiwi knack knee knife knot knuckle koala kudos
  labor lace ladder lagoon lamb land landing lantern lanyard lap lapel lapse
  laptop large lark lasagna laser lasso lately lateral latte lattice laugh launch
  laundry lava lavish lawyer lazy lead leader league learn legacy legend legible
  leisure lemon lemur length lens lentil leotard lesson letter lettuce level lexicon
  liberty library license lid lighter lilac lily limeade limit limo linen lion
  liquid list liter little lively llama loan lobby lobster lodge lodging lofty
  logbook logic logo longbow loop loose lotus loud lounge love lowland lucid
  lucky luggage lullaby lumpy lunar luxury lyric macaw machine maestro magenta magic
  magnet magnify magpie mailbox mailman main mammal mammoth manage mandate mansion mantle
  manual maple marble marine market marsh mascot mason mast matinee matrix matter
  maximum mayor maze meadow media medium medley meek melody melon member memo
  memory mentor menu mercy merge merit mermaid mesh message metal meteor method
  middle midway migrate milkman milky mill mimic mineral mingle minimum minor mint
  minute miracle mirror mission mitten mix mixer moat mobile mocha modem modest
  module mohair moist moment monarch monday money monitor monsoon monster month moon
  moral morning morsel mosaic motel motive mouse mover movie muddy mule mumble
  murky muscle museum music mustang mustard mutual myth nachos naive napkin narwhal
  nation natural nature navy nearby nebula neck necktie nectar needle neon nephew
  nerve nervous netball network neutral never newborn news niche nickel nightly nimble
  ninja noble nod noise nomad nomadic normal north notch notepad novel novice
  nozzle nucleus nudge nugget number nurse nursery nut nutmeg nylon oasis oatcake
  oatmeal obelisk object oblige oblong oboe observe obtain occur ocean octagon octave
  octopus odd oddly odyssey offbeat offer office offset often oilskin okay olive
  omega omelet omit omnibus onboard once onion online onward opera opossum optic
  optimal option oracle orator orbit orbital orchard orchid ordeal order orderly oregano
  organ organic origin ornate osprey ostrich outback outdoor outer outfit outlet outline
  outpost output oval oven overall owl owner oxygen oyster pack pad padlock
  page pagoda pail palace palette palm pancake panda panel panic panther pants
  papaya paprika parade paragon parasol parcel parent parfait parka parlor parrot parsley
  parsnip partial partner party passage passion pasta pastel pastime pastry path patio
  patron pattern pause paver pawn payment peacock peak peanut pearl pebble pecan
  pedal peer pelican pelt pen pencil penguin pennant penny pepper perch perfect
  pergola permit person pesto pewter phantom phone photo phrase physics piano pickle
  picnic picture pie pigeon pilgrim pinball pioneer pirate pitch pitcher pivot pixel
  pizza placid plain planet plank plate plateau platoon player plaza pledge plenty
  pliers plow pluck plume plunge plus podium poet pole police polka pollen
  polygon poncho pony poodle popcorn popular portal portion posh postage potato potluck
  pottery pouch poultry pounce powder prairie predict prefer premium press pretty primate
  prince print printer prism prize probe process produce profit promise prompt proper
  protein proud proverb prune public pudding puddle puffin pull pulsar pulse pumice
  pump pumpkin punch pupil puppet puppy purple pursue puzzle pyramid quail quaint
  quantum quarry quarter quartz quasar queen quench query quest quibble quick quilt
  quilted quiver quiz quokka quote rabbit raccoon radar radiant radio radish raft
  rafter ragtime rainbow raise raisin rake rally rambler ramp ranch rancher random
  range rapid rapport rarely raspy rather rattle raven ravine raw razor react
  ready realm rebel rebound recall recess recipe record recycle redwood reef referee
  refuel regal regatta region regular relax relish rely remedy remote renew rent
  repair reptile rescue resolve resort retire retro return reveal review reward rhino
  rhubarb rhythm ribbon rich ridge rigid rim ring ringlet rinse ripe ripple
  ritual rival river riviera roadway robin robot robust rock rocket rodeo roll
  roof roomy rooster rose rosebud rotate rotor rotunda route rowboat royal rubber
  rubble rubric ruby rudder ruin ruler rumor runway rural rush safari saga
  salad salmon salsa salt salute salvage sandal sandbar sandbox sane sapling sardine
  sash satchel satin sauce sausage savings savory scale scallop scarf scarlet scene
  scenic scheme scholar school science scooter scrap screen script scroll scuba sculpt
  seagull seaside season seat seaweed second secret secure sedan segment select seller
  senior sense sequel sequoia serene series serum settle seven sextant shadow shady
  shaggy shampoo shape sheep shelf shelter sherbet sheriff sherpa shield shiny ship
  shock shoe short shovel shrimp shrub shuffle shy sibling sidecar sierra sight
  signal silent silk silly silver simple singer siren sister sitcom sizzle skate
  sketch ski skillet skirt skunk skyline slab slack sled sleek slender slide
  slipper slogan slope slumber small smart smile smoke smooth smudge snail snake
  snappy sniff snooze snore snorkel snow snowman snug soak sober soccer social
  soda soft solar solid solo song sonnet soprano sorbet sound soup source
  space spaniel spark sparkle sparrow spatula speaker spell spend sphere spider spike
  spin spinach spirit splash split sponge sponsor spoon spot spray spread spring
  sprout spruce spur square squash squid stadium staff stage stanza staple star
  starch station statue steady steam steel stencil step stereo steward still stomp
  stool story stout stove strand straw street stripe strong stuck studio sturdy
  style sublime subway sudden suffix sugar suit summer sun sunbeam sunny sunrise
  sunset super supply supreme surely surf surge sushi swallow swamp sway sweater
  sweet swift swim swing swirl switch swoop symbol syrup tablet tackle tact
  tadpole tailor takeout talent tame tandem tangent tangle tango tapioca target tarp
  taste tavern taxi tea teacher teapot teddy teen tempest tempo tender tennis
  term terrace terrain text textile thank theory thick thimble thread thrive throne
  thumb thunder ticket tide tiger tilt timber timid tinsel tiny tiptoe tissue
  title toad toast toaster today toddler toffee tofu token tomato tongue tonic
  tooth topaz topple topsoil torch tornado toss total toucan tough tour tourist
  tower town toy tractor trade traffic trail trance trapeze tray treat treetop
  trek trellis tremble trend tribe trilogy trinket trio tripod trolley trophy tropic
  trot trumpet trunk trust tuba tug tugboat tuition tulip tumbler tundra tune
  tunnel turbine turbo turkey turnip turtle tutor tuxedo tweed twelve twin twinkle
  twist tycoon type typhoon ukulele ultra uncle under unfold unicorn unique unison
  unit unlock unpack unveil upbeat update uphill uplift upload upon upper uproar
  upset upward uranium urban usher usual utensil utility utopia vacant vacuum valiant
  valid valve van vanilla vapor varnish vase vault vector velvet vendor venison
  venue veranda verbena verdict verse very vessel veteran veto vibrant victory video
  view vigor village vine vintage vinyl viola violin virtual visa vision visit
  visual vital vivid vocal vogue voice volcano volley voltage volume vortex vote
  vowel voyage waddle waffle wagon walk walker walkway walnut walrus waltz want
  warbler warden wary wasabi wasp watch water wave wax waxwing wealth weather
  web wedding weekday weekend weekly welcome well west wetland wheat wheel whisk
  whistle white whiz whole wicker width wiggle wildcat willing willow wind window
  winter wiper wiring wisdom wish witty wizard wobble wok wolf wombat wooden
  woody wool world worm worry worthy wrap wreath wren wrestle wrist yacht
  yak yarn year yeast yellow yelp yeti yield yodel yodeler yoga yogurt
  yolk yonder young youth yummy zany zeal zealous zebra zenith zero zesty
  zigzag zinc zip zipline zipper zodiac zone zoo
`;

/** All code words, sorted, frozen. A word's index is its 11-bit value. */
export const WORDS: readonly string[] = Object.freeze(RAW.trim().split(/\s+/));

/** Set of WORDS for O(1) membership tests. */
export const WORD_SET: ReadonlySet<string> = new Set(WORDS);

/** word -> its index in WORDS. */
export const WORD_INDEX: ReadonlyMap<string, number> = new Map(WORDS.map((w, i) => [w, i] as const));
