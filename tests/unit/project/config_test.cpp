#include "project/config.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "temp_dir.hpp"

namespace vrift::project {
namespace {

using manifest::Tier;

TEST(Config, DefaultRulesClassifyAsTheTicketSays) {
  Config c;
  c.tier_rules = default_tier_rules();
  EXPECT_EQ(c.tier_of("node_modules/lodash/lodash.js"), Tier::tier1);
  EXPECT_EQ(c.tier_of(".venv/lib/python3.11/site-packages/six.py"), Tier::tier1);
  EXPECT_EQ(c.tier_of(".cargo/registry/src/x/lib.rs"), Tier::tier1);
  EXPECT_EQ(c.tier_of("opt/toolchains/gcc/bin/gcc"), Tier::tier1);
  EXPECT_EQ(c.tier_of("target/debug/app"), Tier::tier2);
  EXPECT_EQ(c.tier_of("dist/bundle.js"), Tier::tier2);
  EXPECT_EQ(c.tier_of("build/main.o"), Tier::tier2);
  EXPECT_EQ(c.tier_of("src/unclassified.txt"), Tier::tier2);
}

TEST(Config, RenderedConfigLoadsBackTheSame) {
  test::TempDir dir;
  Config c;
  c.mode = Mode::Phantom;
  c.projected = {"node_modules", "target"};
  c.tier_rules = default_tier_rules();
  c.tier_rules.insert(c.tier_rules.begin(), {"node_modules/\"odd\"/**", Tier::tier2});
  c.tier1_link = Tier1Link::hardlink;
  c.tier1_immutable = false;
  std::ofstream(dir / "config.toml") << render_config(c);
  auto loaded = load_config(dir / "config.toml");
  ASSERT_TRUE(loaded) << loaded.error().why;
  EXPECT_EQ(loaded->mode, Mode::Phantom);
  EXPECT_EQ(loaded->projected, c.projected);
  EXPECT_EQ(loaded->tier1_link, Tier1Link::hardlink);
  EXPECT_FALSE(loaded->tier1_immutable);
  ASSERT_EQ(loaded->tier_rules.size(), c.tier_rules.size());
  EXPECT_EQ(loaded->tier_rules[0].pattern, "node_modules/\"odd\"/**");
  EXPECT_EQ(loaded->tier_of("node_modules/\"odd\"/x"), Tier::tier2);
}

// [phantom] directories: "tier1" by default (a dependency's directories are Tier-1 by
// their own paths, a build output's are not), each value read back, anything else named.
TEST(Config, PhantomDirectoriesDefaultToTier1) {
  Config c;
  c.tier_rules = default_tier_rules();
  EXPECT_EQ(c.phantom_dirs, PhantomDirs::tier1);
  EXPECT_EQ(c.tier_of("node_modules/@scope/pkg/lib"), Tier::tier1);
  EXPECT_EQ(c.tier_of(".venv/lib/python3.11/site-packages/six"), Tier::tier1);
  EXPECT_EQ(c.tier_of("target/debug/deps"), Tier::tier2);
  test::TempDir dir;
  for (PhantomDirs dirs : {PhantomDirs::physical, PhantomDirs::tier1, PhantomDirs::all}) {
    c.phantom_dirs = dirs;
    std::ofstream(dir / "config.toml") << render_config(c);
    auto loaded = load_config(dir / "config.toml");
    ASSERT_TRUE(loaded) << loaded.error().why;
    EXPECT_EQ(loaded->phantom_dirs, dirs);
  }
  std::ofstream(dir / "bad.toml") << "[phantom]\ndirectories = \"some\"\n";
  auto bad = load_config(dir / "bad.toml");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().why.find("\"tier1\", \"virtual\" or \"physical\""), std::string::npos) << bad.error().why;
}

TEST(Config, ErrorsNameTheLine) {
  test::TempDir dir;
  std::ofstream(dir / "a.toml") << "version = 1\nmode = \"ghost\"\n";
  auto r = load_config(dir / "a.toml");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().why.find("line 2"), std::string::npos) << r.error().why;
  EXPECT_NE(r.error().why.find("solid"), std::string::npos) << r.error().why;

  std::ofstream(dir / "b.toml") << "projected = [\n";
  r = load_config(dir / "b.toml");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().what, "cannot read config");

  std::ofstream(dir / "c.toml") << "version = 99\n";
  r = load_config(dir / "c.toml");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().why.find("upgrade vrift"), std::string::npos);

  std::ofstream(dir / "d.toml") << "projected = [\"/etc\"]\n";
  EXPECT_FALSE(load_config(dir / "d.toml"));
  std::ofstream(dir / "e.toml") << "[[rule]]\npattern = \"x\"\ntier = 3\n";
  EXPECT_FALSE(load_config(dir / "e.toml"));
}

TEST(Config, SetModeChangesOnlyTheModeLine) {
  test::TempDir dir;
  std::string text = "# mine\nversion = 1\n  mode   = \"solid\"  # keep?\nprojected = [\"build\"]\n\n"
                     "[tier1]\n# a comment I wrote\nlink = \"hardlink\"\nmode_note = 1\n";
  std::ofstream(dir / "c.toml") << text;
  ASSERT_TRUE(set_config_mode(dir / "c.toml", Mode::Phantom));
  auto loaded = load_config(dir / "c.toml");
  ASSERT_TRUE(loaded) << loaded.error().why;
  EXPECT_EQ(loaded->mode, Mode::Phantom);
  EXPECT_EQ(loaded->tier1_link, Tier1Link::hardlink);
  std::ifstream in(dir / "c.toml");
  std::string back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(back, "# mine\nversion = 1\nmode = \"phantom\"\nprojected = [\"build\"]\n\n"
                  "[tier1]\n# a comment I wrote\nlink = \"hardlink\"\nmode_note = 1\n");

  // No mode line: one is added before the first table, not inside it.
  std::ofstream(dir / "d.toml") << "version = 1\n[tier1]\nlink = \"symlink\"\n";
  ASSERT_TRUE(set_config_mode(dir / "d.toml", Mode::Phantom));
  loaded = load_config(dir / "d.toml");
  ASSERT_TRUE(loaded) << loaded.error().why;
  EXPECT_EQ(loaded->mode, Mode::Phantom);
  ASSERT_TRUE(set_config_mode(dir / "d.toml", Mode::Solid));
  EXPECT_EQ(load_config(dir / "d.toml")->mode, Mode::Solid);

  EXPECT_FALSE(set_config_mode(dir / "missing.toml", Mode::Solid));
}

}  // namespace
TEST(Config, ProjectsWhatExistsAndWhatTheProjectsToolsWillMake) {
  test::TempDir dir;
  using V = std::vector<std::string>;
  EXPECT_EQ(default_projected(dir.path().string()), V{});
  std::ofstream(dir / "package.json") << "{}";
  EXPECT_EQ(default_projected(dir.path().string()), V{"node_modules"});
  std::ofstream(dir / "Cargo.toml") << "[package]";
  std::ofstream(dir / "requirements.txt") << "";
  ASSERT_EQ(::mkdir((dir / "build").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((dir / "dist").c_str(), 0755), 0);
  EXPECT_EQ(default_projected(dir.path().string()), (V{"node_modules", "target", ".venv", "dist", "build"}));
  // A file named like a directory, or a directory named like the file, does not count.
  test::TempDir other;
  std::ofstream(other / "build") << "";
  ASSERT_EQ(::mkdir((other / "Cargo.toml").c_str(), 0755), 0);
  EXPECT_EQ(default_projected(other.path().string()), V{});

  Config c;
  c.projected = {"node_modules", "build"};
  c.tier_rules = default_tier_rules();
  char node_tier = static_cast<char>('0' + static_cast<int>(c.tier_of("node_modules")));
  EXPECT_EQ(projected_record(c), node_tier + std::string("node_modules\n2build\n"));
}

}  // namespace vrift::project
