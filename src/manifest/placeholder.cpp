namespace vrift::manifest {}
