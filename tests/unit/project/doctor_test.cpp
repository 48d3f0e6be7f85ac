#include "project/doctor.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "project/ingest.hpp"
#include "temp_dir.hpp"

namespace vrift::project {
namespace {

// A Solid project with two Tier-2 build outputs, ingested into its own Source.
struct Fixture {
  test::TempDir dir;
  ProjectPaths project;
  Config config;
  std::optional<cas::TheSource> source;
  std::optional<manifest::LmdbManifest> manifest;

  Fixture() {
    ::mkdir((dir / "p").c_str(), 0755);
    ::mkdir((dir / "p/build").c_str(), 0755);
    std::ofstream(dir / "p/build/a.o") << "first";
    std::ofstream(dir / "p/build/b.o") << "second";
    auto made = init_project(dir / "p", InitOptions{});
    EXPECT_TRUE(made);
    project = *made;
    config = *load_config(project.config_file());
    source.emplace(*cas::TheSource::open(dir / "cas", true));
    manifest.emplace(*manifest::LmdbManifest::open(project.manifest_dir().c_str(), manifest::OpenOptions{}));
    IngestOptions options;
    options.paths = {"build"};
    auto ingested = ingest(project, config, *source, *manifest, options, [](const Failure&) {});
    EXPECT_TRUE(ingested);
  }
  Outcome<DoctorReport> run(bool repair) {
    DoctorOptions options;
    options.repair = repair;
    return doctor(project, config, *source, *manifest, options);
  }
};

TEST(Doctor, CleanProjectHasNoProblems) {
  Fixture f;
  auto report = f.run(false);
  ASSERT_TRUE(report) << report.error().why;
  EXPECT_TRUE(report->clean());
  EXPECT_EQ(report->files, 2u);
  EXPECT_EQ(report->blobs, 2u);
  EXPECT_NE(report->summary().find("no problems"), std::string::npos) << report->summary();
}

TEST(Doctor, MissingLinkIsReportedThenRepaired) {
  Fixture f;
  ASSERT_EQ(::unlink((f.dir / "p/build/a.o").c_str()), 0);
  auto report = f.run(false);
  ASSERT_TRUE(report);
  ASSERT_EQ(report->problems.size(), 1u);
  EXPECT_EQ(report->problems[0].kind, DoctorProblemKind::missing_link);
  EXPECT_EQ(report->problems[0].path, f.dir / "p/build/a.o");
  EXPECT_EQ(report->remaining, 1u);
  EXPECT_NE(problem_line(report->problems[0]).find("missing link ("), std::string::npos);

  auto repaired = f.run(true);
  ASSERT_TRUE(repaired);
  EXPECT_TRUE(repaired->clean()) << repaired->summary();
  ASSERT_EQ(repaired->problems.size(), 1u);
  EXPECT_TRUE(repaired->problems[0].fixed);
  struct stat st;
  ASSERT_EQ(::stat((f.dir / "p/build/a.o").c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 2u);  // the blob's inode again
  EXPECT_TRUE(f.run(false)->clean());
}

}  // namespace
}  // namespace vrift::project
